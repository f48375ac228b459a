import { useEffect, useState } from "react";
import { NavLink, Route, Routes } from "react-router-dom";
import { onUnauthorized } from "./api";
import { TokenPage } from "./components/TokenPage";
import { ComparePage } from "./pages/ComparePage";
import { ExperimentPage } from "./pages/ExperimentPage";
import { ExperimentsPage } from "./pages/ExperimentsPage";
import { SamplesPage } from "./pages/SamplesPage";
import { getToken } from "./token";

export function App() {
  const [token, setTokenState] = useState(getToken());
  const [rejected, setRejected] = useState(false);
  useEffect(
    () =>
      onUnauthorized(() => {
        setRejected(true);
        setTokenState(null);
      }),
    [],
  );
  if (!token) {
    return (
      <TokenPage
        rejected={rejected}
        onToken={(t) => {
          setRejected(false);
          setTokenState(t);
        }}
      />
    );
  }
  return (
    <div className="app">
      <header className="top">
        <span className="brand">VLMHyperBench</span>
        <nav>
          <NavLink to="/" end>
            Experiments
          </NavLink>
          <NavLink to="/compare">Compare</NavLink>
        </nav>
      </header>
      <main>
        <Routes>
          <Route path="/" element={<ExperimentsPage />} />
          <Route path="/experiments/:id" element={<ExperimentPage />} />
          <Route path="/experiments/:id/samples" element={<SamplesPage />} />
          <Route path="/compare" element={<ComparePage />} />
          <Route path="*" element={<p className="error">No such page.</p>} />
        </Routes>
      </main>
    </div>
  );
}
