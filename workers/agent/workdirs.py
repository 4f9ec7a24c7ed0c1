"""Where an agent keeps things, under its directory:

    work/<project>/<instance>/<replica index>/          the replica's working directory (cwd, HOME)
    work/<project>/<instance>/<replica index>.generation the generation that directory was made for
    logs/<project>/<instance>/<replica index>.log        stdout + stderr (rotated: .log.1 .. .log.3)
    state/<project>/<instance>.json                     the desired state (desired_state.py)
    artifact-cache/                                     fetched packages (services.adapters.artifacts)

A replica's working directory holds the instance's package: an unpacked archive's tree, or a single
file (e.g. a .jar) under its cached name, copied from the artifact cache (not hard-linked: a replica
that rewrites a file of its package must not change the cache, nor the other replicas). A replica
that keeps its index but changes generation gets a fresh directory."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

# Project and instance ids become path components: nothing but these characters.
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class Layout:
    def __init__(self, agent_dir: Path) -> None:
        self.agent_dir = agent_dir
        self.work = agent_dir / "work"
        self.logs = agent_dir / "logs"
        self.state = agent_dir / "state"
        self.artifact_cache = agent_dir / "artifact-cache"

    def instance_work(self, project_id: str, instance_id: str) -> Path:
        return self.work / project_id / instance_id

    def instance_logs(self, project_id: str, instance_id: str) -> Path:
        return self.logs / project_id / instance_id

    def workdir(self, project_id: str, instance_id: str, index: int) -> Path:
        return self.instance_work(project_id, instance_id) / str(index)

    def log_file(self, project_id: str, instance_id: str, index: int) -> Path:
        return self.instance_logs(project_id, instance_id) / f"{index}.log"

    def log_files(self, project_id: str | None, instance_id: str) -> list[tuple[str, int, Path]]:
        """(project, replica index, path) of every current log file of the instance, by index."""
        pattern = f"{project_id or '*'}/{instance_id}/*.log"
        found = []
        for path in self.logs.glob(pattern):
            if path.stem.isdigit():
                found.append((path.parent.parent.name, int(path.stem), path))
        return sorted(found, key=lambda f: (f[0], f[1]))

    def remove_instance(self, project_id: str, instance_id: str) -> None:
        for d in (self.instance_work(project_id, instance_id), self.instance_logs(project_id, instance_id)):
            shutil.rmtree(d, ignore_errors=True)
            try:
                d.parent.rmdir()  # the project's directory, when it was the last instance
            except OSError:
                pass

    def remove_replica_dir(self, project_id: str, instance_id: str, index: int) -> None:
        shutil.rmtree(self.workdir(project_id, instance_id, index), ignore_errors=True)
        self._marker(project_id, instance_id, index).unlink(missing_ok=True)

    def _marker(self, project_id: str, instance_id: str, index: int) -> Path:
        return self.instance_work(project_id, instance_id) / f"{index}.generation"

    def prepare_workdir(self, project_id: str, instance_id: str, index: int, generation: str, package: Path | None, fresh: bool) -> Path:
        """The replica's working directory for ``generation``, with the package in it. Kept as it is
        when it was made for this generation (an agent restart), unless ``fresh``."""
        workdir = self.workdir(project_id, instance_id, index)
        marker = self._marker(project_id, instance_id, index)
        try:
            made_for = marker.read_text()
        except OSError:
            made_for = None
        if not fresh and made_for == generation and workdir.is_dir():
            return workdir
        self.remove_replica_dir(project_id, instance_id, index)
        workdir.mkdir(parents=True, mode=0o750)
        if package is not None:
            if package.is_dir():
                shutil.copytree(package, workdir, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy2(package, workdir / package.name)
        marker.write_text(generation)
        return workdir
