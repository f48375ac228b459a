"""A Ray cluster of three separate "hosts" on this machine, with no folder shared between them.

Each host (``a``, ``b``, ``c``) is a Linux network namespace joined by a veth pair to a bridge
in the root namespace, with its own address in a private /24 (the bridge has one too, so this
test process reaches every host). Each host has one mount namespace of its own, made once by
``ip netns exec NS unshare --mount --propagation private`` and entered by every command run
on the host, in which

- ``host_path`` (``BASE/host``) is a bind mount of the host's own folder
  ``BASE/private/<host>``: every host sees "its own disk" at the same path, each a different
  real folder (``private_dir(host)``, for the test to inspect);
- ``/dev/shm`` (Ray's object store) is a private tmpfs;
- ``host_path/uv-cache`` is an overlayfs whose read-only lower layer is this machine's uv
  cache (like a container image layer) and whose upper layer is the host's own.

All of a host's processes share that one mount namespace, as on a real machine (separate
overlays over one upper folder would not see each other's writes coherently).

Everything else is read from the real filesystem: it is the "image" every node has installed:
the repository checkout, the test's Python environment with Ray (``python``), uv and its
managed Pythons. Only ``host_path`` is per host, so a test that proves "no shared filesystem"
keeps every piece of data (work dir, caches, logs) under ``host_path``. Host processes get
``UV_CACHE_DIR=host_path/uv-cache``, ``UV_OFFLINE=1`` (the namespaces have no internet),
``UV_LINK_MODE=copy``, ``VLMHB_ENV_CACHE=host_path/envs``, ``HOME=host_path/home``,
``TMPDIR=host_path/tmp`` and test AWS credentials (``AWS_ACCESS_KEY_ID`` ...), on top of
this process's environment (without proxies, ``RAY_ADDRESS`` and ``AWS_*``/``XDG_*``
settings). A Ray token (``RAY_AUTH_MODE``/``RAY_AUTH_TOKEN_PATH``, set by conftest) is
inherited: the same token on every node, as a deployed cluster has.

A Ray head runs on ``a`` (``ray_address``), workers on ``b`` and ``c``; a host's custom Ray
resources come from the caller (e.g. ``{"b": {"gpu-host": 1}}`` to pin a model server to
``b``). The GCS health checks are tuned so a dead node is declared dead within seconds (about
8 s here). An S3-compatible server (moto, ``s3_host.py``) runs on ``a`` at ``s3_endpoint``,
creates no bucket, and keeps its data in memory across ``restart_storage``.

API (``NetnsCluster(num_cpus=1, resources=None, ray_env=None, start_timeout=300)``; a context
manager: ``start()`` on entry, ``close()`` on exit):

- ``run(host, argv, env=None, timeout=600, cwd=None, check=False) -> CompletedProcess[str]``
  and ``popen(host, argv, env=None, cwd=None, **popen_kwargs) -> Popen``: a command on a
  host (its network and mount namespaces, ``host_env(host, env)``); ``cwd`` defaults to this
  process's; ``close()`` kills what is still running. ``python`` is the interpreter to run.
- ``host_path`` (the common path of every host's own disk), ``private_dir(host)`` (the real
  folder behind it), ``ip(host)``, ``ray_address`` (``a_ip:6379``), ``s3_endpoint``
  (``http://a_ip:9000``), ``logs_dir`` (Ray node and store output, on no host's disk).
- ``nodes()`` / ``wait_nodes(alive=(), dead=(), timeout=60)``: ``ray.nodes()`` queried from
  a driver on ``a``, as dicts ``host, ip, alive, node_id, resources``; the wait raises
  ``TimeoutError`` with the hosts' Ray log tails (``logs_tail()``).
- ``s3_client(**botocore_config)``: a boto3 client of the test process for the store.
- ``restart_storage(down_s)``: returns once the store refuses connections (open ones are
  reset); it listens again, same data, ``down_s`` later; ``wait_storage(timeout)`` waits.
- ``kill_host(host)``: the machine dies: every process in its namespace is SIGKILLed and its
  link goes down (peers time out rather than being refused); ``run`` on it then raises.
  ``which_host(pid)``: the host a process runs on (None: not on a host).
- ``skip_reason()`` (module function): why this machine cannot build the cluster, or None.

Usage::

    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with NetnsCluster(resources={"b": {"gpu-host": 1}}) as cluster:
        work = cluster.host_path / "work"
        run = cluster.popen("a", ["vlmhb", "run", "default", "--executor", "ray",
                                  "--ray-address", cluster.ray_address, "--workdir", str(work)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
        cluster.restart_storage(5)          # returns once the store is down; up 5 s later
        cluster.kill_host("c")              # the machine dies (processes killed, link down)
        cluster.wait_nodes(alive={"a", "b"}, dead={"c"})   # Ray noticed
        assert run.wait() == 0
        sorted((cluster.private_dir("a") / "work").iterdir())

Cleanup (``close()``, also on a failure half-way through ``start()`` and at interpreter exit;
safe to call twice): every process in the hosts' namespaces is killed (their mounts vanish
with them), then the namespaces, veths, bridge and the ``BASE`` folder are removed. This
process needs root; a process killed by SIGKILL leaves them behind (``ip netns list``:
``vc-<tag>-<host>``; ``ip link``: ``vcb<tag>``).
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

HOSTS = ("a", "b", "c")
"""The hosts; ``a`` runs the Ray head and the storage server."""
RAY_PORT = 6379
S3_PORT = 9000
START_TIMEOUT_S = 300.0  # a loaded 2-core machine takes a minute or more to start Ray nodes
HEALTH_CHECK_ENV = {
    # GCS -> raylet health checks (names from the installed Ray's RAY_CONFIG): a dead node is
    # declared dead after about initial delay + threshold * (period + timeout) = a few seconds
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}
TEST_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "vlmhb-test",
    "AWS_SECRET_ACCESS_KEY": "vlmhb-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_OBJECT_STORE_BYTES = 128 * 1024**2
_SHM_SIZE = "256m"
_S3_SCRIPT = Path(__file__).with_name("s3_host.py")

# Runs once per host as its mount namespace's first process, then stays (`sleep infinity`)
# so that every later command can enter that namespace. Paths arrive as arguments.
_HOST_SETUP = r"""
set -e
private=$1 host=$2 uv_lower=$3
mount --bind "$private" "$host"
mount -t tmpfs -o size=$4,mode=1777 vlmhb-shm /dev/shm
mount -t overlay vlmhb-uv \
    -o "lowerdir=$uv_lower,upperdir=$host/.layers/uv-upper,workdir=$host/.layers/uv-work" \
    "$host/uv-cache"
echo ready
exec sleep infinity
"""

# Run on host a with the cluster's Python: waits until ray.nodes() matches, prints the nodes.
_NODES_SCRIPT = r"""
import json, logging, sys, time
import ray

want = json.loads(sys.argv[1])
ray.init(address=want["address"], logging_level=logging.ERROR, log_to_driver=False)
deadline = time.monotonic() + want["timeout"]
while True:
    nodes = [
        {"ip": n["NodeManagerAddress"], "alive": n["Alive"], "node_id": n["NodeID"],
         "resources": n.get("Resources", {})}
        for n in ray.nodes()
    ]
    alive = {n["ip"] for n in nodes if n["alive"]}
    dead = {n["ip"] for n in nodes if not n["alive"]} - alive
    ok = set(want["alive"]) <= alive and set(want["dead"]) <= dead
    if ok or time.monotonic() > deadline:
        print("NODES " + json.dumps(nodes), flush=True)
        sys.exit(0 if ok else 3)
    time.sleep(0.5)
"""


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A root-namespace command (``ip``, ``mount``); its stderr is in the error it raises."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def _uv_dirs() -> tuple[str, str]:
    """(uv cache dir, uv managed Pythons dir) of this machine, as uv reports them."""
    if shutil.which("uv") is None:
        raise RuntimeError("uv is not on PATH (the hosts use this machine's uv cache)")
    return _sh("uv", "cache", "dir").stdout.strip(), _sh("uv", "python", "dir").stdout.strip()


@cache
def skip_reason() -> str | None:
    """Why this machine cannot build the cluster (not root, no ``ip netns``, ``unshare
    --mount`` or overlayfs refused, ...), or None when it can. Tests ``pytest.skip`` with it."""
    if sys.platform != "linux":
        return f"network namespaces need Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return "network namespaces, bridges and mounts need root"
    for tool in ("ip", "unshare", "nsenter", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        _uv_dirs()
    except RuntimeError as error:
        return str(error)
    probe = f"vc-probe-{secrets.token_hex(3)}"
    try:
        _sh("ip", "netns", "add", probe)
    except RuntimeError as error:
        return f"cannot create a network namespace: {error}"
    try:
        _sh("ip", "link", "add", f"{probe[3:]}b", "type", "bridge")
        _sh("ip", "link", "del", f"{probe[3:]}b")
        with tempfile.TemporaryDirectory(prefix="vc-probe-", dir="/tmp") as folder:
            for name in ("lower", "upper", "work", "merged", "bind"):
                Path(folder, name).mkdir()
            script = (
                f"mount --bind {folder}/lower {folder}/bind && mount -t tmpfs probe /dev/shm && "
                f"mount -t overlay probe -o lowerdir={folder}/lower,upperdir={folder}/upper,"
                f"workdir={folder}/work {folder}/merged"
            )
            _sh(*_in_private_mounts(probe), "sh", "-ec", script)
    except RuntimeError as error:
        return f"cannot build a host (bridge, unshare --mount, bind, tmpfs or overlay): {error}"
    finally:
        _sh("ip", "netns", "del", probe, check=False)
    return None


def _in_private_mounts(netns: str) -> list[str]:
    """The argv prefix that runs a command in ``netns`` and in a mount namespace of its own
    (what a host is; the capability probe checks the same)."""
    return ["ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private", "--"]


class NetnsCluster:
    """Three hosts, a Ray cluster over them and an S3 store on ``a``; see the module docstring.

    ``num_cpus``: Ray CPUs per host (one number for all, or per host, 1 for those not named).
    ``resources``: custom Ray resources per host, e.g. ``{"b": {"gpu-host": 1}}``.
    ``ray_env``: extra environment for the Ray nodes (e.g. ``RAY_...`` config).
    """

    def __init__(
        self,
        num_cpus: int | Mapping[str, int] = 1,
        resources: Mapping[str, Mapping[str, float]] | None = None,
        ray_env: Mapping[str, str] | None = None,
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        unknown = set(resources or {}) | (set(num_cpus) if isinstance(num_cpus, Mapping) else set())
        if unknown - set(HOSTS):
            raise ValueError(f"unknown hosts {sorted(unknown - set(HOSTS))}; hosts are {HOSTS}")
        self._cpus = {
            h: num_cpus.get(h, 1) if isinstance(num_cpus, Mapping) else num_cpus for h in HOSTS
        }
        self._resources = {h: dict((resources or {}).get(h, {})) for h in HOSTS}
        self._ray_env = dict(ray_env or {})
        self._start_timeout = start_timeout
        tag = secrets.token_hex(3)
        self._base = Path(tempfile.mkdtemp(prefix="vc-", dir="/tmp"))  # short: Ray's sockets
        self._netns = {h: f"vc-{tag}-{h}" for h in HOSTS}
        self._veth = {h: f"vc{tag}{h}" for h in HOSTS}  # root side; the host side ends in "p"
        self._bridge = f"vcb{tag}"
        self._subnet = self._free_subnet()
        self._ips = {h: f"{self._subnet}.{11 + i}" for i, h in enumerate(HOSTS)}
        self._keepers: dict[str, subprocess.Popen[str]] = {}
        self._processes: list[tuple[str, subprocess.Popen[Any]]] = []
        self._dead: set[str] = set()
        self._made: list[tuple[str, str]] = []  # ("netns"|"link", name) in creation order
        self._s3: subprocess.Popen[bytes] | None = None
        self._s3_events = 0  # lines of the s3 log already consumed by restart_storage
        self._uv_cache = self._uv_python_dir = ""  # this machine's, found by start()
        self._closed = False
        atexit.register(self.close)  # also when the test process ends without closing it

    # ------------------------------------------------------------------ the public view
    @property
    def hosts(self) -> tuple[str, ...]:
        return HOSTS

    @property
    def host_path(self) -> Path:
        """The one path at which every host sees its own disk (``BASE/host``)."""
        return self._base / "host"

    @property
    def python(self) -> str:
        """The Python (with Ray, boto3, the executor) every host has installed."""
        return os.path.abspath(sys.executable)  # not resolved: a venv's python is a link

    @property
    def ray_address(self) -> str:
        return f"{self._ips['a']}:{RAY_PORT}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{self._ips['a']}:{S3_PORT}"

    @property
    def logs_dir(self) -> Path:
        """This harness's logs (Ray node and storage output), outside every host's disk."""
        return self._base / "logs"

    def ip(self, host: str) -> str:
        return self._ips[self._check(host)]

    def private_dir(self, host: str) -> Path:
        """The real folder that ``host`` sees at ``host_path``."""
        return self._base / "private" / self._check(host)

    def host_env(self, host: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment a command on ``host`` gets (``env`` on top)."""
        hp = self.host_path
        dropped = ("RAY_ADDRESS", "VIRTUAL_ENV", "UV_CACHE_DIR", "VLMHB_ENV_CACHE")
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.lower().endswith("_proxy")
            and not k.startswith(("AWS_", "XDG_"))
            and k not in dropped
        }
        path = os.pathsep.join([str(Path(self.python).parent), base.get("PATH", "")])
        pyenv_root = Path(base.get("PYENV_ROOT") or Path.home() / ".pyenv")
        if pyenv_root.is_dir():  # pyenv's shims (uv here) find it from $HOME otherwise
            base["PYENV_ROOT"] = str(pyenv_root)
        return {
            **base,
            "PATH": path,
            "HOME": f"{hp}/home",
            "TMPDIR": f"{hp}/tmp",
            "UV_CACHE_DIR": f"{hp}/uv-cache",
            "UV_OFFLINE": "1",
            "UV_LINK_MODE": "copy",  # the overlay and the host's disk are separate mounts
            "UV_PYTHON_INSTALL_DIR": self._uv_python_dir,
            "VLMHB_ENV_CACHE": f"{hp}/envs",
            "RAY_USAGE_STATS_ENABLED": "0",
            **TEST_AWS_ENV,
            **(env or {}),
        }

    def popen(
        self,
        host: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> subprocess.Popen[Any]:
        """Start ``argv`` on ``host`` (its network and mount namespaces, its environment);
        ``kwargs`` go to ``subprocess.Popen``. ``close()`` kills it if it still runs."""
        process = subprocess.Popen(
            self._on_host(host, argv, cwd), env=self.host_env(host, env), **kwargs
        )
        self._processes.append((host, process))
        return process

    def run(
        self,
        host: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        timeout: float = 600,
        cwd: str | os.PathLike[str] | None = None,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` on ``host`` to the end; output captured as text."""
        return subprocess.run(
            self._on_host(host, argv, cwd),
            env=self.host_env(host, env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def nodes(self) -> list[dict[str, Any]]:
        """``ray.nodes()`` as seen from host ``a``: dicts with host, ip, alive, node_id,
        resources."""
        return self.wait_nodes(timeout=0)

    def wait_nodes(
        self, alive: Iterable[str] = (), dead: Iterable[str] = (), timeout: float = 60
    ) -> list[dict[str, Any]]:
        """Wait until Ray (queried from host ``a``) shows the ``alive`` hosts alive and the
        ``dead`` ones dead; returns the nodes, or raises with the hosts' Ray log tails."""
        want = {
            "address": self.ray_address,
            "alive": [self.ip(h) for h in alive],
            "dead": [self.ip(h) for h in dead],
            "timeout": timeout,
        }
        done = self.run(
            "a", [self.python, "-c", _NODES_SCRIPT, json.dumps(want)], timeout=timeout + 120
        )
        found = [line for line in done.stdout.splitlines() if line.startswith("NODES ")]
        if done.returncode != 0 or not found:
            raise TimeoutError(
                f"Ray did not show alive={sorted(alive)} dead={sorted(dead)} within {timeout}s "
                f"(exit {done.returncode}); nodes: {found[-1][6:] if found else '?'}\n"
                f"query stderr: {done.stderr[-2000:]}\n{self.logs_tail()}"
            )
        by_ip = {ip: h for h, ip in self._ips.items()}
        return [{"host": by_ip.get(n["ip"]), **n} for n in json.loads(found[-1][6:])]

    def s3_client(self, **config: Any) -> Any:
        """A boto3 S3 client of this (the test) process for the store, e.g. to look at what a
        run left there; ``config`` goes to ``botocore.config.Config``."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id=TEST_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=TEST_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=TEST_AWS_ENV["AWS_DEFAULT_REGION"],
            config=Config(**config),
        )

    def restart_storage(self, down_s: float) -> None:
        """Restart the storage server: returns once it refuses connections; it listens again,
        with the same data, ``down_s`` seconds later (``wait_storage`` waits for that)."""
        if self._s3 is None or self._s3.poll() is not None:
            raise RuntimeError(f"the storage server is not running; its log:\n{self._s3_log()}")
        (self._base / "ctl" / "s3-down-s").write_text(str(down_s))
        self._s3_events = len(self._s3_log().splitlines())
        self._s3.send_signal(signal.SIGUSR1)
        self._wait_s3_line("down", timeout=30)

    def wait_storage(self, timeout: float = 60) -> None:
        """Wait until the storage server accepts connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self._ips["a"], S3_PORT), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"storage at {self.s3_endpoint} not up in {timeout}s:\n{self._s3_log()}")

    def kill_host(self, host: str) -> None:
        """The machine dies: SIGKILL every process in its namespace (its mounts go with them)
        and unplug its network (link down: peers time out, as with a dead machine)."""
        self._kill_namespace(self._check(host))
        self._dead.add(host)
        _sh("ip", "link", "set", self._veth[host], "down", check=False)
        for owner, process in self._processes:
            if owner == host:
                process.wait(10)

    def which_host(self, pid: int) -> str | None:
        """The host whose network namespace holds process ``pid`` (None: the root one)."""
        try:
            inode = os.stat(f"/proc/{pid}/ns/net").st_ino
        except OSError:
            return None
        for host, name in self._netns.items():
            try:
                if os.stat(f"/run/netns/{name}").st_ino == inode:
                    return host
            except OSError:
                continue
        return None

    def logs_tail(self, chars: int = 2500) -> str:
        """The tails of every host's Ray logs and the storage log (for error messages)."""
        parts = []
        for log in sorted(self.logs_dir.glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}")
        for host in HOSTS:
            logs = self.private_dir(host) / "ray" / "session_latest" / "logs"
            for name in ("gcs_server.err", "raylet.err", "raylet.out"):
                if (logs / name).is_file():
                    text = (logs / name).read_text(errors="replace")[-chars:]
                    parts.append(f"--- host {host}: {name}\n{text}")
        return "\n".join(parts)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> NetnsCluster:
        """Build the hosts, start Ray and the storage server; on any failure clean up and
        raise."""
        try:
            self._uv_cache, self._uv_python_dir = _uv_dirs()
            self._make_network()
            for host in HOSTS:
                self._make_host(host)
            self._start_s3()
            self._start_ray()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Remove everything this cluster made; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        for host in HOSTS:
            if ("netns", self._netns[host]) in self._made:
                self._kill_namespace(host)
        for _, process in [*self._processes, *self._keepers.items()]:
            if process.poll() is None:  # not in a namespace after all (a failed start)
                process.kill()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                pass
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        for kind, name in reversed(self._made):
            if kind == "netns":
                _sh("ip", "netns", "del", name, check=False)
            else:
                _sh("ip", "link", "del", name, check=False)
        shutil.rmtree(self._base, ignore_errors=True)

    def __enter__(self) -> NetnsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ building
    def _check(self, host: str) -> str:
        if host not in self._ips:
            raise ValueError(f"unknown host {host!r}; hosts are {HOSTS}")
        return host

    @staticmethod
    def _free_subnet() -> str:
        routes = _sh("ip", "-4", "route", "show", "table", "all").stdout
        for _ in range(50):
            subnet = f"10.213.{secrets.randbelow(256)}"
            if f"{subnet}." not in routes:
                return subnet
        raise RuntimeError("no free 10.213.x.0/24 subnet for the cluster")

    def _make_network(self) -> None:
        _sh("ip", "link", "add", "name", self._bridge, "type", "bridge")
        self._made.append(("link", self._bridge))
        _sh("ip", "addr", "add", f"{self._subnet}.1/24", "dev", self._bridge)
        # bridged traffic skips iptables (a FORWARD policy of DROP, as Docker sets, would
        # cut the hosts off); where the kernel lacks the option, its iptables decide
        _sh("ip", "link", "set", self._bridge, "type", "bridge", "nf_call_iptables", "0",
            check=False)  # fmt: skip
        _sh("ip", "link", "set", self._bridge, "up")
        for host in HOSTS:
            ns, veth, peer = self._netns[host], self._veth[host], f"{self._veth[host]}p"
            _sh("ip", "netns", "add", ns)
            self._made.append(("netns", ns))
            _sh("ip", "link", "add", veth, "type", "veth", "peer", "name", peer)
            self._made.append(("link", veth))
            _sh("ip", "link", "set", peer, "netns", ns)
            _sh("ip", "link", "set", veth, "master", self._bridge, "up")
            _sh("ip", "-n", ns, "addr", "add", f"{self._ips[host]}/24", "dev", peer)
            _sh("ip", "-n", ns, "link", "set", peer, "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")

    def _make_host(self, host: str) -> None:
        for path in (self._uv_cache, str(self._base)):
            if any(c in path for c in ",:"):
                raise RuntimeError(f"overlayfs cannot take the path {path!r} (',' or ':')")
        private = self.private_dir(host)
        for sub in ("uv-cache", ".layers/uv-upper", ".layers/uv-work", "home", "tmp", "envs"):
            (private / sub).mkdir(parents=True, exist_ok=True)
        for folder in (self.host_path, self.logs_dir, self._base / "ctl"):
            folder.mkdir(exist_ok=True)
        keeper = subprocess.Popen(
            [
                *_in_private_mounts(self._netns[host]),
                "sh",
                "-c",
                _HOST_SETUP,
                "sh",
                str(private),
                str(self.host_path),
                self._uv_cache,
                _SHM_SIZE,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self._keepers[host] = keeper
        assert keeper.stdout is not None
        if keeper.stdout.readline().strip() != "ready":
            keeper.wait(10)
            stderr = keeper.stderr.read() if keeper.stderr else ""
            raise RuntimeError(f"host {host}: its mounts failed: {stderr.strip()}")

    def _on_host(
        self, host: str, argv: Sequence[str], cwd: str | os.PathLike[str] | None
    ) -> list[str]:
        self._check(host)
        if host in self._dead:
            raise RuntimeError(f"host {host} was killed (kill_host)")
        keeper = self._keepers.get(host)
        if keeper is None or keeper.poll() is not None:
            raise RuntimeError(f"host {host} is not running (start() not called, or closed)")
        # nsenter resets the working directory to the namespace's root: name it inside
        where = os.fspath(cwd) if cwd is not None else os.getcwd()
        return [
            "nsenter",
            f"--target={keeper.pid}",
            "--mount",
            "--net",
            f"--wdns={where}",
            "--",
            *argv,
        ]

    def _logged(
        self, host: str, argv: list[str], log: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """A long-running process on ``host`` whose output goes to ``logs_dir/log``."""
        with (self.logs_dir / log).open("wb") as out:  # the child keeps its own copy
            return self.popen(
                host, argv, env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def _start_s3(self) -> None:
        self._s3 = self._logged(
            "a",
            [
                self.python,
                str(_S3_SCRIPT),
                "--host",
                self._ips["a"],
                "--port",
                str(S3_PORT),
                "--down-file",
                str(self._base / "ctl" / "s3-down-s"),
            ],
            "s3.log",
        )
        self._wait_s3_line("listening", timeout=120)

    def _s3_log(self) -> str:
        log = self.logs_dir / "s3.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def _wait_s3_line(self, word: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self._s3_log().splitlines()[self._s3_events :]
            if any(line.startswith(word) for line in lines):
                return
            if self._s3 is not None and self._s3.poll() is not None:
                break
            time.sleep(0.1)
        raise TimeoutError(f"the storage server did not print {word!r}:\n{self._s3_log()}")

    def _start_ray(self) -> None:
        env = {**HEALTH_CHECK_ENV, **self._ray_env}
        self._ray_node("a", ["--head", f"--port={RAY_PORT}", "--include-dashboard=false"], env)
        self._wait_log("a", "block forever", "the Ray head on a")
        for host in ("b", "c"):
            self._ray_node(host, [f"--address={self.ray_address}"], env)
        self.wait_nodes(alive=HOSTS, timeout=self._start_timeout)

    def _ray_node(self, host: str, args: list[str], env: Mapping[str, str]) -> None:
        ray = str(Path(self.python).parent / "ray")
        self._logged(
            host,
            [
                ray,
                "start",
                *args,
                "--block",
                "--disable-usage-stats",
                f"--node-ip-address={self._ips[host]}",
                f"--temp-dir={self.host_path}/ray",
                f"--num-cpus={self._cpus[host]}",
                f"--resources={json.dumps(self._resources[host])}",
                f"--object-store-memory={_OBJECT_STORE_BYTES}",
            ],
            f"{host}-ray.log",
            env,
        )

    def _wait_log(self, host: str, text: str, what: str) -> None:
        log = self.logs_dir / f"{host}-ray.log"
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if text in log.read_text(errors="replace"):
                return
            if all(p.poll() is not None for h, p in self._processes if h == host):
                break
            time.sleep(0.5)
        raise TimeoutError(f"{what} did not start:\n{self.logs_tail()}")

    def _kill_namespace(self, host: str) -> None:
        """SIGKILL every process in the host's network namespace, until none is left."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = _sh("ip", "netns", "pids", self._netns[host], check=False)
            pids = [int(p) for p in listed.stdout.split()]
            if listed.returncode != 0 or not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"processes of host {host} survive SIGKILL: {pids}")
