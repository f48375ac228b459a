"""Just-in-time, content-addressed uv environments for package sources (local, git, PyPI).

Usable without the VLMHyperBench core::

    from vlmhb_dependency_injector import EnvironmentManager, PypiSource

    env = EnvironmentManager("/tmp/envs").ensure(
        [PypiSource(type="pypi", name="iniconfig", version="==2.0.0")]
    )
    print(env.python, env.lock_text)
"""

from .container import ContainerBuilder, ContainerRunner
from .errors import DependencyError, InstallError, NetworkError, SourceError
from .interpreter import Interpreter
from .manager import (
    Builder,
    Environment,
    EnvironmentInfo,
    EnvironmentManager,
    VenvBuilder,
    default_cache_dir,
    environment_key,
)
from .resolve import ResolvedSource, folder_hash, resolve_source, resolve_sources
from .sources import (
    DependencySource,
    GitSource,
    LocalSource,
    PypiSource,
    dependency_source_adapter,
)

__version__ = "0.2.0"

__all__ = [
    "Builder",
    "ContainerBuilder",
    "ContainerRunner",
    "DependencyError",
    "DependencySource",
    "Environment",
    "EnvironmentInfo",
    "EnvironmentManager",
    "GitSource",
    "InstallError",
    "Interpreter",
    "LocalSource",
    "NetworkError",
    "PypiSource",
    "ResolvedSource",
    "SourceError",
    "VenvBuilder",
    "default_cache_dir",
    "dependency_source_adapter",
    "environment_key",
    "folder_hash",
    "resolve_source",
    "resolve_sources",
]
