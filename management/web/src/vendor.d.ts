// plotly.js-cartesian-dist-min ships no types; the dashboard uses only react() and purge().
declare module "plotly.js-cartesian-dist-min";
