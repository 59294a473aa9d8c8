"""docker-compose.yml, checked without a Docker engine (none runs here).

docker-compose 1.29 parses the file with no environment at all; every host path it mounts and every file the
Dockerfile copies exists; services, ports, paths and credentials agree between the compose file, Prometheus'
config, deploy/mysql/init.sql and deploy/mysqld-exporter/my.cnf; promtool accepts Prometheus' config; and the
real mysqld_exporter (0.14 here) runs with the compose file's flags and my.cnf against a MariaDB set up by
init.sql. The trace is wired where Grafana runs: the shop writes its JSON log to a volume the exporter reads, the
exporter's config (the shipped journeys plus deploy/exporter/trace.yml, put together by its entrypoint) names
that log and a performance_schema reader of init.sql, and its runs live on a volume; the composed shop and
exporter, run here as processes with those paths on disk, show a slow statement on the run page and a user's
request with its statements at /trace/<id>. What is mounted from rules/, alertmanager/ and grafana/ is checked
too, so those tests fail while those files are missing: intended.
"""

from __future__ import annotations

import configparser
import glob
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import MySQLdb
import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from exporter.sections import SECTIONS
from exporter.trace import TraceConfig, Window
from exporter.trace import mysql as trace_mysql
from synthetic.config import load_config
from tests.harness import ManagedProcess, MariaDB, free_port, require_binary, start_mariadb

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
MY_CNF = REPO / "deploy" / "mysqld-exporter" / "my.cnf"
TRACE_SECTION = REPO / "deploy" / "exporter" / "trace.yml"
INIT_SQL = REPO / "deploy" / "mysql" / "init.sql"
WORKFLOWS = REPO / "synthetic" / "workflows" / "demo_shop.yml"

SERVICES = {"mysql", "mysqld-exporter", "shop", "exporter", "prometheus", "alertmanager", "grafana"}
JOBS_THE_RULES_NEED = {"demo-shop", "workflow-exporter", "mysql"}  # rules/ and grafana/ select on these
EXPORTER_GRANTS = {"PROCESS", "REPLICATION CLIENT", "SELECT"}
# Flags of the pinned prom/mysqld-exporter image that the Debian 0.14 binary does not know. Empty today: every
# flag the compose file passes exists since 0.12 (eventsstatementssum) or earlier, --config.my-cnf included.
MYSQLD_EXPORTER_FLAGS_NEWER_THAN_0_14: set[str] = set()
# Images whose version must stay on a line the rest of the bundle is written for.
IMAGE_LINES = {"mysql": "mysql:8.0.", "grafana": "grafana/grafana:11.6."}

_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}|\$\$")


def interpolate_defaults(text: str) -> str:
    """What compose makes of ``${NAME:-default}`` and ``$$`` when no variable is set and there is no .env."""
    return _VARIABLE.sub(lambda m: "$" if m.group(0) == "$$" else (m.group("default") or ""), text)


COMPOSE: dict[str, Any] = yaml.safe_load(interpolate_defaults(COMPOSE_FILE.read_text()))
SERVICE_SPECS: dict[str, dict[str, Any]] = COMPOSE["services"]


class Mount(NamedTuple):
    service: str
    source: str  # as written, relative to the compose file
    target: str

    @property
    def host_path(self) -> Path:
        return (REPO / self.source).resolve()


class Port(NamedTuple):
    host_ip: str
    host_port: int
    container_port: int


def bind_mounts(service: str | None = None) -> list[Mount]:
    mounts = []
    for name, spec in SERVICE_SPECS.items():
        if service is not None and name != service:
            continue
        for volume in spec.get("volumes", []):
            if isinstance(volume, dict):
                if volume.get("type") == "bind":
                    mounts.append(Mount(name, volume["source"], volume["target"]))
                continue
            source, target = volume.split(":")[:2]
            if source.startswith((".", "/")):  # otherwise a named volume
                mounts.append(Mount(name, source, target))
    return mounts


class Volume(NamedTuple):
    service: str
    name: str  # a named volume of the compose file
    target: str
    read_only: bool


def named_volumes(service: str) -> list[Volume]:
    found = []
    for volume in SERVICE_SPECS[service].get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "volume":
                found.append(Volume(service, volume["source"], volume["target"], bool(volume.get("read_only"))))
            continue
        source, target, *options = volume.split(":")
        if not source.startswith((".", "/")):
            found.append(Volume(service, source, target, "ro" in ",".join(options).split(",")))
    return found


def mount_target(service: str, source: str) -> str:
    """Where ``service`` sees the host path ``source``."""
    wanted = (REPO / source).resolve()
    targets = [mount.target for mount in bind_mounts(service) if mount.host_path == wanted]
    assert targets, f"{service} does not mount {source}"
    return targets[0]


def published_ports(service: str) -> list[Port]:
    ports = []
    for entry in SERVICE_SPECS[service].get("ports", []):
        parts = str(entry).split("/")[0].split(":")
        assert len(parts) == 3, f"{service}: publish as HOST_IP:HOST_PORT:CONTAINER_PORT, got {entry!r}"
        ports.append(Port(parts[0], int(parts[1]), int(parts[2])))
    return ports


def listen_ports(service: str) -> set[int]:
    """The container ports a service is reachable on from the compose network."""
    exposed = {int(str(port).split("/")[0]) for port in SERVICE_SPECS[service].get("expose", [])}
    return exposed | {port.container_port for port in published_ports(service)}


def command(service: str) -> list[str]:
    value = SERVICE_SPECS[service].get("command", [])
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def flags(service: str) -> dict[str, str]:
    """``--name=value`` arguments of a service's command (``--name`` alone maps to "")."""
    return dict(arg.partition("=")[::2] for arg in command(service) if arg.startswith("--"))


def environment(service: str) -> dict[str, str]:
    env = SERVICE_SPECS[service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(key): str(value) for key, value in env.items()}


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def assert_reaches_a_service(address: str, where: str) -> None:
    host, port = host_port(address)
    assert host in SERVICE_SPECS, f"{where}: {address} is not a compose service ({sorted(SERVICE_SPECS)})"
    assert port in listen_ports(host), f"{where}: {host} listens on {sorted(listen_ports(host))}, not {port}"


# --- docker-compose itself -------------------------------------------------------------------------------------


def test_docker_compose_accepts_the_file_with_no_environment_set() -> None:
    binary = require_binary("docker-compose")  # Debian package docker-compose (1.29)
    clean_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    result = subprocess.run(
        [binary, "-f", str(COMPOSE_FILE), "config", "-q"], capture_output=True, text=True, env=clean_env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # Without a default, compose warns "The X variable is not set" and uses "": every variable needs a default.
    assert "is not set" not in result.stderr, result.stderr


def test_every_service_of_the_bundle_is_there_on_a_pinned_image() -> None:
    assert set(SERVICE_SPECS) >= SERVICES
    for name, spec in SERVICE_SPECS.items():
        if "build" in spec:
            continue
        image = spec["image"]
        _, _, tag = image.rpartition(":")
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: pin {image} to a concrete version"
        if name in IMAGE_LINES:
            assert image.startswith(IMAGE_LINES[name]), f"{name}: {image} is not on {IMAGE_LINES[name]}x"
    assert SERVICE_SPECS["shop"]["build"] in (".", {"context": "."})
    assert SERVICE_SPECS["exporter"]["build"] == SERVICE_SPECS["shop"]["build"]


@pytest.mark.parametrize("mount", bind_mounts(), ids=lambda mount: f"{mount.service}:{mount.source}")
def test_mounted_host_path_exists(mount: Mount) -> None:
    # Docker creates a missing source as an empty directory: the service then starts without its config.
    assert mount.host_path.exists(), f"{mount.service} mounts {mount.source}, which does not exist"
    looks_like_a_file = bool(PurePosixPath(mount.target).suffix)
    assert mount.host_path.is_file() == looks_like_a_file, (
        f"{mount.service}: {mount.source} should be a {'file' if looks_like_a_file else 'directory'}"
    )


def test_ports_are_published_on_loopback_only() -> None:
    published = {name: published_ports(name) for name in SERVICE_SPECS}
    assert all(published[name] for name in SERVICES), "every service of the bundle is reachable from the host"
    for name, ports in published.items():
        for port in ports:
            assert port.host_ip == "127.0.0.1", f"{name} publishes {port} beyond this machine"
    host_ports = [port.host_port for ports in published.values() for port in ports]
    assert len(host_ports) == len(set(host_ports)), f"two services publish the same host port: {host_ports}"


def test_start_order_waits_on_healthchecks() -> None:
    for name, spec in SERVICE_SPECS.items():
        check = spec.get("healthcheck", {}).get("test")
        assert check and check[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
        for url in re.findall(r"https?://[\w.-]+:\d+\S*", " ".join(check)):
            _, port = host_port(urlsplit(url).netloc)
            assert port in listen_ports(name), f"{name}'s healthcheck asks port {port}, it listens on other ones"
        depends_on = spec.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions, not a list"
        for dependency, condition in depends_on.items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}: {condition}"
            assert "healthcheck" in SERVICE_SPECS[dependency], f"{name} waits on {dependency}, which has none"
    expected = {
        "mysqld-exporter": {"mysql"},
        "shop": {"mysql"},
        "exporter": {"shop"},
        "grafana": {"prometheus"},
        "prometheus": {"alertmanager", "mysqld-exporter", "shop", "exporter"},
    }
    for name, dependencies in expected.items():
        assert set(SERVICE_SPECS[name].get("depends_on", {})) >= dependencies, name


def test_services_listen_on_all_interfaces_where_they_are_published() -> None:
    # A server bound to 127.0.0.1 inside its container is unreachable from the other containers.
    shop = " ".join(command("shop"))
    bind = re.search(r"--bind[= ](\S+)", shop)
    assert bind and "gunicorn demo_shop.wsgi" in shop, shop
    listen = {
        "shop": bind.group(1),
        "exporter": flags("exporter")["--web.listen-address"],
        "mysqld-exporter": flags("mysqld-exporter")["--web.listen-address"],
    }
    for name, address in listen.items():
        host, port = host_port(address)
        assert host in ("", "0.0.0.0"), f"{name} binds {address}"
        assert port in listen_ports(name), f"{name} listens on {port}, publishes {sorted(listen_ports(name))}"
    assert listen_ports("mysql") == {3306}
    assert listen_ports("prometheus") == {9090}
    assert listen_ports("alertmanager") == {9093}
    assert listen_ports("grafana") == {3000}
    assert re.search(r"--workers[= ]1\b", shop), "one gunicorn worker: exemplars need a single process"
    assert re.search(r"--threads[= ]\d+", shop)
    assert "migrate" in shop and "seed_shop" in shop and shop.index("seed_shop") < shop.index("gunicorn")


# --- the image -------------------------------------------------------------------------------------------------


class Copy(NamedTuple):
    sources: list[str]
    destination: str  # absolute, resolved against WORKDIR
    from_stage: str | None


def dockerfile_stages() -> list[list[Copy]]:
    """COPY/ADD instructions of each stage of the Dockerfile."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[Copy]] = []
    workdir = "/"
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
            workdir = "/"
        elif instruction == "WORKDIR":
            workdir = str(PurePosixPath(workdir) / rest.strip())
        elif instruction in ("COPY", "ADD"):
            words = shlex.split(rest)
            options = dict(word[2:].partition("=")[::2] for word in words if word.startswith("--"))
            paths = [word for word in words if not word.startswith("--")]
            destination = str(PurePosixPath(workdir) / paths[-1]) + ("/" if paths[-1].endswith("/") else "")
            stages[-1].append(Copy(paths[:-1], destination, options.get("from")))
    return stages


def dockerignore_excludes(path: str) -> bool:
    """Docker's .dockerignore semantics, enough for our patterns: a match on a path or on any parent excludes it;
    later patterns win; ``!`` re-includes."""
    excluded = False
    candidates = [
        str(PurePosixPath(*PurePosixPath(path).parts[: i + 1])) for i in range(len(PurePosixPath(path).parts))
    ]
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").lstrip("/").removeprefix("./").rstrip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, candidate) for candidate in candidates):
            excluded = not negate
    return excluded


def test_dockerfile_copies_exist_and_are_in_the_build_context() -> None:
    copies = [copy for stage in dockerfile_stages() for copy in stage if copy.from_stage is None]
    assert copies
    for copy in copies:
        for source in copy.sources:
            assert (REPO / source).exists(), f"Dockerfile copies {source}, which does not exist"
            assert not dockerignore_excludes(source.rstrip("/")), f".dockerignore keeps {source} out of the context"


def test_the_image_builds_the_whole_package() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = [pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    build_stage = dockerfile_stages()[0]
    copied = {source.rstrip("/") for copy in build_stage for source in copy.sources}
    assert {"pyproject.toml", pyproject["project"]["readme"], *packages} <= copied
    run_lines = " ".join(re.sub(r"\\\n", " ", DOCKERFILE.read_text()).splitlines())
    assert re.search(r"pip install '?\.\[shop,exporter,mysql\]'?", run_lines), "shop, exporter, mysql extras"
    for build_dependency in ("default-libmysqlclient-dev", "pkg-config", "gcc"):
        assert build_dependency in run_lines
    # mysqlclient links libmariadb.so.3 (Debian's default-libmysqlclient-dev): the runtime stage needs only that.
    runtime_stage = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.MULTILINE)[-1]
    assert "libmariadb3" in runtime_stage and "gcc" not in runtime_stage


def image_user() -> tuple[str, str]:
    """The user the final stage runs as, and the home ``useradd --create-home`` gives it."""
    final_stage = re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.MULTILINE)[-1]
    user = re.findall(r"^USER (\w+)", final_stage, flags=re.MULTILINE)
    assert user, "the image runs as a user of its own"
    useradd = re.search(r"useradd\b[^\n]*--create-home[^\n]*\b" + user[-1] + r"\b", final_stage)
    assert useradd, f"{user[-1]} gets a home from useradd --create-home"
    return user[-1], f"/home/{user[-1]}"


class Entrypoint(NamedTuple):
    sources: list[str]  # concatenated, in order
    written: str


def exporter_entrypoint() -> Entrypoint:
    """``sh -c 'cat SOURCES > WRITTEN && exec "$@"' sh``: the config put together, then the command run."""
    entrypoint = SERVICE_SPECS["exporter"]["entrypoint"]
    assert isinstance(entrypoint, list) and entrypoint[:2] == ["sh", "-c"] and entrypoint[3:] == ["sh"], entrypoint
    match = re.fullmatch(r"cat ((?:\S+ )+)> (\S+) && exec \"\$@\"", entrypoint[2])
    assert match, f"the exporter's entrypoint: {entrypoint[2]!r}"
    return Entrypoint(match.group(1).split(), match.group(2))


def image_path(path: str) -> Path | None:
    """The file of the build context the final stage copies to ``path``, if any."""
    for copy in dockerfile_stages()[-1]:
        if copy.from_stage is None and path.startswith(copy.destination):
            relative = path[len(copy.destination) :].lstrip("/")
            (source,) = copy.sources
            return (REPO / source / relative).resolve()
    return None


def test_writable_volumes_sit_on_the_home_the_image_user_owns() -> None:
    # A new named volume takes the owner of the image's directory it is mounted on; where the image has none,
    # it is root's and the app user cannot write to it. The image's user owns its home, and nothing else.
    _, home = image_user()
    for service in ("shop", "exporter"):
        writable = [volume for volume in named_volumes(service) if not volume.read_only]
        assert writable, f"{service} keeps something on a volume"
        for volume in writable:
            assert volume.target == home, f"{service}: {volume.name} on {volume.target}, which the app user cannot own"


def test_the_exporters_config_is_the_shipped_journeys_plus_the_trace_section() -> None:
    entrypoint = exporter_entrypoint()
    shipped, section = entrypoint.sources
    assert image_path(shipped) == WORKFLOWS, f"{shipped} is not the image's copy of {WORKFLOWS.relative_to(REPO)}"
    assert section == mount_target("exporter", "deploy/exporter/trace.yml")
    # the file it writes is the one the exporter reads, where the app user may write, and the working directory's
    # workflows.yml: `docker compose exec exporter workflow-exporter trace <id>` finds it by default
    assert entrypoint.written == flags("exporter")["--config.file"]
    _, home = image_user()
    assert entrypoint.written == f"{home}/workflows.yml"
    assert SERVICE_SPECS["exporter"]["working_dir"] == home
    assert not yaml.safe_load(WORKFLOWS.read_text()).keys() & yaml.safe_load(TRACE_SECTION.read_text()).keys()


def composed_exporter_config(directory: Path, env: dict[str, str]) -> Any:
    """What the exporter's entrypoint writes, read as the exporter reads it, with ``env`` set."""
    path = directory / "workflows.yml"
    path.write_text(WORKFLOWS.read_text() + TRACE_SECTION.read_text())
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        return load_config(path, sections=SECTIONS)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_the_exporters_trace_reads_the_shops_log_and_performance_schema(tmp_path: Path) -> None:
    config = composed_exporter_config(tmp_path, environment("exporter"))
    assert set(config.workflows) == set(yaml.safe_load(WORKFLOWS.read_text())["workflows"])
    trace: TraceConfig = config.sections["trace"]
    # The shop writes its log on a volume; the exporter mounts that volume read-only and reads the same file.
    log_file = PurePosixPath(environment("shop")["DJANGO_LOG_FILE"])
    (shop_volume,) = [v for v in named_volumes("shop") if log_file.is_relative_to(v.target)]
    (seen_by_exporter,) = [v for v in named_volumes("exporter") if v.name == shop_volume.name]
    assert seen_by_exporter.read_only
    assert trace.logs == (str(PurePosixPath(seen_by_exporter.target) / log_file.relative_to(shop_volume.target)),)
    # performance_schema through a user of init.sql that may read it and nothing else
    (dsn,) = trace.mysql
    assert dsn == environment("exporter")["TRACE_DATABASE_URL"]
    url = urlsplit(dsn)
    assert_reaches_a_service(f"{url.hostname}:{url.port}", "TRACE_DATABASE_URL")
    assert url.hostname == "mysql" and url.username
    assert url.password == init_sql_users()[url.username].password
    assert init_sql_grants()[url.username] == [({"SELECT"}, "performance_schema.*")]
    assert init_sql_users()[url.username].options.startswith("WITH MAX_USER_CONNECTIONS")
    # MySQL 8 keeps no long statement history unless asked to at start (README: the trace's sources)
    mysql = command("mysql")
    for consumer in ("events-statements-current", "events-statements-history-long"):
        assert f"--performance-schema-consumer-{consumer}=ON" in mysql
    assert "--performance-schema=ON" in mysql


def test_the_exporter_keeps_its_runs_on_a_volume() -> None:
    storage = PurePosixPath(flags("exporter")["--storage.path"])
    assert any(storage.is_relative_to(v.target) for v in named_volumes("exporter") if not v.read_only), storage
    assert {v.name for v in named_volumes("exporter")} <= set(COMPOSE["volumes"])
    # the README's `docker compose exec exporter workflow-exporter trace <id> --storage.path=data`
    assert storage == PurePosixPath(SERVICE_SPECS["exporter"]["working_dir"]) / "data"


# --- Prometheus ------------------------------------------------------------------------------------------------


def prometheus_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    return config


def scrape_addresses(job: dict[str, Any]) -> list[str]:
    """The host:port Prometheus connects to for a job (the /probe style rewrites __address__)."""
    targets = [target for static in job.get("static_configs", []) for target in static["targets"]]
    for relabel in job.get("relabel_configs", []):
        if relabel.get("target_label") == "__address__" and "source_labels" not in relabel:
            return [relabel["replacement"]] * len(targets)
    return targets


def test_every_scrape_target_is_a_port_of_a_compose_service() -> None:
    config = prometheus_config()
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) >= JOBS_THE_RULES_NEED
    expected = {"demo-shop": "shop", "workflow-exporter": "exporter", "mysql": "mysqld-exporter"}
    for job_name, service in expected.items():
        assert {host_port(address)[0] for address in scrape_addresses(jobs[job_name])} == {service}, job_name
    for job_name, job in jobs.items():
        addresses = scrape_addresses(job)
        assert addresses, f"job {job_name} has no targets"
        for address in addresses:
            assert_reaches_a_service(address, f"job {job_name}")
    for alertmanagers in config["alerting"]["alertmanagers"]:
        for static in alertmanagers["static_configs"]:
            for address in static["targets"]:
                assert host_port(address)[0] == "alertmanager"
                assert_reaches_a_service(address, "alerting")


def test_the_probe_job_asks_for_a_configured_target_and_workflow() -> None:
    workflows = yaml.safe_load(WORKFLOWS.read_text())
    probes = [job for job in prometheus_config()["scrape_configs"] if job.get("metrics_path") == "/probe"]
    assert probes, "a blackbox-style /probe job, like scripts/demo.py's"
    for job in probes:
        assert job["params"]["workflow"][0] in workflows["workflows"]
        for static in job["static_configs"]:
            assert set(static["targets"]) <= set(workflows["targets"]), "targets are configured names, not URLs"
        assert_reaches_a_service(scrape_addresses(job)[0], job["job_name"])
        assert host_port(scrape_addresses(job)[0])[0] == "exporter"


def test_every_service_reads_the_config_mounted_for_it() -> None:
    prometheus = flags("prometheus")
    assert prometheus["--config.file"] == mount_target("prometheus", "deploy/prometheus/prometheus.yml")
    assert "--enable-feature" in prometheus and "exemplar-storage" in prometheus["--enable-feature"].split(",")
    assert "--web.enable-lifecycle" in prometheus
    rules_dir = mount_target("prometheus", "rules")
    rule_files = prometheus_config()["rule_files"]
    assert rule_files == [f"{rules_dir}/*.rules.yml"]
    assert flags("alertmanager")["--config.file"] == mount_target("alertmanager", "alertmanager/alertmanager.yml")
    assert flags("mysqld-exporter")["--config.my-cnf"] == mount_target(
        "mysqld-exporter", "deploy/mysqld-exporter/my.cnf"
    )
    assert mount_target("mysql", "deploy/mysql/init.sql").startswith("/docker-entrypoint-initdb.d/")
    assert mount_target("grafana", "grafana/provisioning") == "/etc/grafana/provisioning"
    assert mount_target("grafana", "grafana/dashboards") == "/var/lib/grafana/dashboards"


def repository_rule_files() -> list[str]:
    """rule_files as promtool sees them here: the container's mount of ./rules replaced by the repository's."""
    rules_dir = mount_target("prometheus", "rules")
    return [pattern.replace(rules_dir, str(REPO / "rules"), 1) for pattern in prometheus_config()["rule_files"]]


def rewritten_prometheus_config(directory: Path) -> Path:
    config = prometheus_config()
    config["rule_files"] = repository_rule_files()
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_promtool_accepts_the_prometheus_config(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    for path in (PROMETHEUS_CONFIG, rewritten_prometheus_config(tmp_path)):
        result = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{path}:\n{result.stdout}{result.stderr}"
        assert "SUCCESS" in result.stdout


def test_the_rule_files_glob_finds_the_rules() -> None:
    patterns = repository_rule_files()
    found = [path for pattern in patterns for path in glob.glob(pattern)]
    assert found, f"{patterns} matches no rule file in rules/: Prometheus would load no rules"


# --- the shop, the exporter and MySQL --------------------------------------------------------------------------


class SqlUser(NamedTuple):
    password: str
    options: str


def init_sql_statements(server: str = "mysql") -> list[str]:
    """init.sql's statements as ``server`` (``mysql`` or ``mariadb``) runs them: a MariaDB-only versioned comment
    (``/*M!100509 … */``) is part of the statement on MariaDB and a plain comment on MySQL."""
    text = "\n".join(line for line in INIT_SQL.read_text().splitlines() if not line.lstrip().startswith("--"))
    text = re.sub(r"/\*M!\d{5,6}(.*?)\*/", (lambda m: m.group(1)) if server == "mariadb" else "", text, flags=re.S)
    return [" ".join(statement.split()) for statement in text.split(";") if statement.strip()]


def init_sql_users() -> dict[str, SqlUser]:
    users = {}
    for statement in init_sql_statements():
        match = re.fullmatch(
            r"CREATE USER IF NOT EXISTS '(\w+)'@'%' IDENTIFIED BY '([^']*)'(.*)", statement, flags=re.DOTALL
        )
        if match:
            users[match.group(1)] = SqlUser(match.group(2), " ".join(match.group(3).split()))
    return users


def init_sql_grants(server: str = "mysql") -> dict[str, list[tuple[set[str], str]]]:
    grants: dict[str, list[tuple[set[str], str]]] = {}
    for statement in init_sql_statements(server):
        match = re.fullmatch(r"GRANT (.+) ON (\S+) TO '(\w+)'@'%'", statement, flags=re.DOTALL)
        if match:
            privileges = {" ".join(p.split()) for p in match.group(1).split(",")}
            grants.setdefault(match.group(3), []).append((privileges, match.group(2)))
    return grants


def test_the_shop_and_the_exporter_share_their_secrets_and_reach_each_other() -> None:
    shop, exporter = environment("shop"), environment("exporter")
    for name in ("DEMO_PROBE_PASSWORD", "SYNTHETIC_SECRET"):
        assert shop[name], f"{name} has a default"
        assert shop[name] == exporter[name], f"{name} differs between the shop and the exporter"
    assert shop["DEMO_FAULTS_ENABLED"] == "1"
    shop_url = urlsplit(exporter["SHOP_URL"])
    assert_reaches_a_service(shop_url.netloc, "SHOP_URL")
    assert shop_url.hostname == "shop"
    # Django answers 400 to a Host it does not allow: the exporter's and Prometheus' requests would all fail.
    allowed_hosts = shop["DJANGO_ALLOWED_HOSTS"].split(",")
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    for address in [shop_url.netloc, *scrape_addresses(jobs["demo-shop"])]:
        assert host_port(address)[0] in allowed_hosts
    assert "127.0.0.1" in allowed_hosts, "the healthcheck asks 127.0.0.1"


@pytest.mark.parametrize(("service", "variable"), [("shop", "DATABASE_URL"), ("exporter", "SHOP_DATABASE_URL")])
def test_database_urls_use_a_user_of_init_sql(service: str, variable: str) -> None:
    url = urlsplit(environment(service)[variable])
    assert url.scheme == "mysql"
    assert_reaches_a_service(f"{url.hostname}:{url.port}", variable)
    assert url.hostname == "mysql"
    users = init_sql_users()
    assert url.username in users, f"{variable}'s user {url.username} is not created by init.sql"
    assert url.password == users[url.username].password, f"{variable}'s password differs from init.sql's"
    database = url.path.lstrip("/")
    assert any(re.match(rf"CREATE DATABASE IF NOT EXISTS {database}\b", s) for s in init_sql_statements())
    assert any(on == f"{database}.*" for _, on in init_sql_grants()[url.username])


def test_my_cnf_logs_in_as_the_exporter_user_of_init_sql() -> None:
    parser = configparser.ConfigParser()
    parser.read_string(MY_CNF.read_text())
    client = parser["client"]
    users = init_sql_users()
    assert client["user"] in users
    assert client["password"] == users[client["user"]].password
    assert_reaches_a_service(f"{client['host']}:{client.get('port', '3306')}", "my.cnf")
    assert client["host"] == "mysql"


def test_init_sql_grants_mysqld_exporter_what_it_needs_and_at_most_3_connections() -> None:
    user = configparser.ConfigParser()
    user.read_string(MY_CNF.read_text())
    name = user["client"]["user"]
    assert init_sql_users()[name].options == "WITH MAX_USER_CONNECTIONS 3"
    assert init_sql_grants()[name] == [(EXPORTER_GRANTS, "*.*")]
    # MariaDB 10.5.9+ split SHOW SLAVE STATUS (the slave_status collector) out of REPLICATION CLIENT.
    assert init_sql_grants("mariadb")[name] == [(EXPORTER_GRANTS | {"SLAVE MONITOR"}, "*.*")]
    assert "--performance-schema=ON" in command("mysql"), "perf_schema can only be switched on at start"


def mysqld_exporter_flags() -> list[str]:
    return [arg for arg in command("mysqld-exporter") if arg.startswith("--")]


def test_the_compose_flags_exist_in_mysqld_exporter_0_14() -> None:
    binary = require_binary("prometheus-mysqld-exporter")
    result = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    help_text = result.stdout + result.stderr
    names = {arg.partition("=")[0] for arg in mysqld_exporter_flags()}
    assert {
        "--config.my-cnf",
        "--collect.info_schema.processlist",
        "--collect.perf_schema.eventsstatements",
        "--collect.perf_schema.eventsstatements.limit",
        "--collect.perf_schema.eventsstatements.digest_text_limit",
        "--collect.perf_schema.eventsstatementssum",
    } <= names
    unknown = {name for name in names if not re.search(rf"{re.escape(name)}[=\s]", help_text)}
    assert unknown == MYSQLD_EXPORTER_FLAGS_NEWER_THAN_0_14, f"not flags of 0.14: {sorted(unknown)}"
    assert flags("mysqld-exporter")["--collect.perf_schema.eventsstatements.limit"] == "50"
    assert flags("mysqld-exporter")["--collect.perf_schema.eventsstatements.digest_text_limit"] == "120"


@pytest.fixture(scope="module")
def initialised_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """A MariaDB of its own (the users of init.sql must not meet other tests' users), set up by init.sql."""
    server = start_mariadb(tmp_path_factory.mktemp("compose-mariadb"))
    try:
        for statement in init_sql_statements():
            server.query(statement)
        yield server
    finally:
        server.stop()


def database_user(variable: str, service: str) -> tuple[str, str]:
    url = urlsplit(environment(service)[variable])
    return url.username or "", url.password or ""


def test_init_sql_gives_the_shop_its_schema_and_the_exporter_only_reads(initialised_mariadb: MariaDB) -> None:
    shop_user, shop_password = database_user("DATABASE_URL", "shop")
    owner = initialised_mariadb.connect(shop_user, shop_password, database="shop")
    try:
        with owner.cursor() as cursor:
            cursor.execute("CREATE TABLE shop_probe_check (id INT PRIMARY KEY)")
            cursor.execute("INSERT INTO shop_probe_check VALUES (1)")
    finally:
        owner.close()
    reader_user, reader_password = database_user("SHOP_DATABASE_URL", "exporter")
    reader = initialised_mariadb.connect(reader_user, reader_password, database="shop")
    try:
        with reader.cursor() as cursor:
            cursor.execute("START TRANSACTION READ ONLY")
            cursor.execute("SELECT id FROM shop_probe_check")
            assert cursor.fetchall() == ((1,),)
            cursor.execute("ROLLBACK")
            with pytest.raises(MySQLdb.OperationalError, match="denied"):
                cursor.execute("DELETE FROM shop_probe_check")
    finally:
        reader.close()
    rows = initialised_mariadb.query("SELECT max_user_connections FROM mysql.user WHERE user = 'exporter'")
    assert rows == [(3,)]


def test_init_sql_lets_the_trace_read_statements_and_nothing_of_the_shop(initialised_mariadb: MariaDB) -> None:
    correlation_id = "compose-trace-check-0001"
    owner = initialised_mariadb.connect(*database_user("DATABASE_URL", "shop"), database="shop")
    try:
        with owner.cursor() as cursor:
            cursor.execute(f"/*request_id='{correlation_id}'*/ SELECT COUNT(*) FROM information_schema.TABLES")
    finally:
        owner.close()
    dsn = environment("exporter")["TRACE_DATABASE_URL"]
    local = dsn.replace("@mysql:3306/", f"@{initialised_mariadb.host}:{initialised_mariadb.port}/")
    report = trace_mysql.search(local, correlation_id, Window())
    assert not report.problems, report.problems
    assert [event.title for event in report.events] == ["SELECT COUNT(*) FROM information_schema.TABLES"]
    reader = initialised_mariadb.connect(*database_user("TRACE_DATABASE_URL", "exporter"))
    try:
        with reader.cursor() as cursor, pytest.raises(MySQLdb.OperationalError, match="denied"):
            cursor.execute("USE shop")
    finally:
        reader.close()


def test_mysqld_exporter_runs_with_the_compose_flags_and_my_cnf(initialised_mariadb: MariaDB, tmp_path: Path) -> None:
    binary = require_binary("prometheus-mysqld-exporter")
    # MariaDB only: SHOW SLAVE STATUS (a default collector) needs SLAVE MONITOR there; MySQL 8 has no such grant.
    initialised_mariadb.query("GRANT SLAVE MONITOR ON *.* TO 'exporter'@'%'")
    parser = configparser.ConfigParser()
    parser.read_string(MY_CNF.read_text())
    parser["client"]["host"] = initialised_mariadb.host
    parser["client"]["port"] = str(initialised_mariadb.port)
    my_cnf = tmp_path / "my.cnf"
    with my_cnf.open("w") as file:
        parser.write(file)
    port = free_port()
    args = []
    for arg in mysqld_exporter_flags():
        name = arg.partition("=")[0]
        args.append(
            {
                "--config.my-cnf": f"--config.my-cnf={my_cnf}",
                "--web.listen-address": f"--web.listen-address=127.0.0.1:{port}",
            }.get(name, arg)
        )
    owner = initialised_mariadb.connect(*database_user("DATABASE_URL", "shop"), database="shop")
    try:
        with owner.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS shop_digest_check (id INT)")
    finally:
        owner.close()
    # The exporter's reader runs a statement whose digest text is longer than the limit (in the shop's schema:
    # digests without one are skipped), then stays connected: with PROCESS, mysqld_exporter sees its thread.
    reader = initialised_mariadb.connect(*database_user("SHOP_DATABASE_URL", "exporter"), database="shop")
    url = f"http://127.0.0.1:{port}/metrics"
    # DATA_SOURCE_NAME empty: 0.14 then reads --config.my-cnf, as 0.15+ always does.
    process = ManagedProcess(
        "mysqld_exporter", [binary, *args], tmp_path / "mysqld_exporter.log", env={"DATA_SOURCE_NAME": ""}
    )
    try:
        with reader.cursor() as cursor:
            cursor.execute(
                "SELECT " + ", ".join(f"id AS column_number_{i}" for i in range(20)) + " FROM shop_digest_check"
            )
        process.wait_ready(lambda: "mysql_up 1" in requests.get(url, timeout=5).text)
        exposition = requests.get(url, timeout=10).text
    finally:
        process.stop()
        reader.close()

    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    assert [s.value for s in samples["mysql_exporter_last_scrape_error"]] == [0.0], process.log_tail()
    collectors = {s.labels["collector"] for s in samples["mysql_exporter_collector_duration_seconds"]}
    for flag in ("info_schema.processlist", "perf_schema.eventsstatements", "perf_schema.eventsstatementssum"):
        assert f"collect.{flag}" in collectors, f"{flag} did not run: {sorted(collectors)}"
    threads = {s.labels["command"]: s.value for s in samples.get("mysql_info_schema_processlist_threads", [])}
    assert threads.get("sleep", 0) >= 1, f"the idle reader is not in the processlist: {threads}"
    assert samples.get("mysql_perf_schema_events_statements_sum_total"), "eventsstatementssum served nothing"
    digest_texts = {s.labels["digest_text"] for s in samples.get("mysql_perf_schema_events_statements_total", [])}
    assert digest_texts, "eventsstatements served no digest"
    assert max(map(len, digest_texts)) <= 120
    long_ones = [text for text in digest_texts if "column_number_0" in text]
    assert long_ones and all(len(text) == 120 for text in long_ones), long_ones


def on_host(service: str, volumes: Path, overrides: dict[str, Path] | None = None) -> Any:
    """A function that rewrites a service's container paths in a text to where this test keeps them: bind
    mounts to the repository's files, named volumes to ``volumes/<name>``, the image's copies to their sources."""
    mapping = {mount.target.rstrip("/"): str(mount.host_path) for mount in bind_mounts(service)}
    mapping |= {volume.target.rstrip("/"): str(volumes / volume.name) for volume in named_volumes(service)}
    for copy in dockerfile_stages()[-1]:
        if copy.from_stage is None and len(copy.sources) == 1:
            mapping.setdefault(copy.destination.rstrip("/"), str(REPO / copy.sources[0]).rstrip("/"))
    mapping |= {target: str(path) for target, path in (overrides or {}).items()}
    paths = sorted(mapping, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w./-])(" + "|".join(map(re.escape, paths)) + r")(?![\w.-])")
    return lambda text: pattern.sub(lambda m: mapping[m.group(1)], text)


def test_the_shop_and_exporter_as_composed_run_every_workflow_and_trace(
    initialised_mariadb: MariaDB, tmp_path: Path
) -> None:
    """The compose file's shop and exporter entrypoints, commands and environments, run here as plain processes:
    loopback addresses instead of compose names, directories of tmp_path instead of volumes, the repository's
    files instead of the image's copies."""
    database = f"@{initialised_mariadb.host}:{initialised_mariadb.port}/"
    shop_port, exporter_port = free_port(), free_port()
    volumes = tmp_path / "volumes"
    for name in COMPOSE["volumes"]:
        (volumes / name).mkdir(parents=True)
    path = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}
    shop_paths = on_host("shop", volumes)
    shop_env = {name: shop_paths(value) for name, value in environment("shop").items()}
    shop_env["DATABASE_URL"] = shop_env["DATABASE_URL"].replace("@mysql:3306/", database)
    # The exporter's trace section as mounted, its paths (the shop's log on the shared volume) on this machine.
    section_target = mount_target("exporter", "deploy/exporter/trace.yml")
    section = tmp_path / "trace.yml"
    section.write_text(on_host("exporter", volumes)(TRACE_SECTION.read_text()))
    exporter_paths = on_host("exporter", volumes, {section_target: section})
    exporter_env = environment("exporter")
    for name in ("SHOP_DATABASE_URL", "TRACE_DATABASE_URL"):
        exporter_env[name] = exporter_env[name].replace("@mysql:3306/", database)
    exporter_env["SHOP_URL"] = f"http://127.0.0.1:{shop_port}"
    entrypoint = [exporter_paths(arg) for arg in SERVICE_SPECS["exporter"]["entrypoint"]]
    shop_command = [arg.replace("0.0.0.0:8000", f"127.0.0.1:{shop_port}") for arg in command("shop")]
    exporter_command = [
        f"--web.listen-address=127.0.0.1:{exporter_port}" if arg.startswith("--web.listen-address=") else arg
        for arg in map(exporter_paths, command("exporter"))
    ]
    config_file = exporter_paths(exporter_entrypoint().written)
    exporter_cwd = exporter_paths(SERVICE_SPECS["exporter"]["working_dir"])
    shop_url, exporter_url = f"http://127.0.0.1:{shop_port}", f"http://127.0.0.1:{exporter_port}"
    shop = ManagedProcess("shop", shop_command, tmp_path / "shop.log", env={**path, **shop_env}, cwd=tmp_path)
    try:
        # migrate + seed_shop as the init.sql user that owns the schema, then gunicorn
        shop.wait_ready(lambda: requests.get(f"{shop_url}/healthz", timeout=2).ok, timeout=180)
        env = {**os.environ, **path, **exporter_env}
        # the entrypoint puts the config together (here with `true` for the command)
        subprocess.run([*entrypoint, "true"], env=env, cwd=exporter_cwd, check=True, timeout=30)
        # Every workflow once, with the exporter's environment (probe password, synthetic secret, the read-only
        # SHOP_DATABASE_URL for the checkout's sql step) and config (its trace section validated too), one after
        # the other: cart and checkout share the probe user's cart, so concurrent runs of the two can fail each other.
        for workflow in yaml.safe_load(WORKFLOWS.read_text())["workflows"]:
            result = subprocess.run(
                [exporter_command[0], "run", f"--config.file={config_file}", "--workflow", workflow],
                env=env,
                cwd=exporter_cwd,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, f"{workflow}:\n{result.stdout}{result.stderr}"
        exporter = ManagedProcess(
            "exporter", [*entrypoint, *exporter_command], tmp_path / "exporter.log", env={**path, **exporter_env},
            cwd=exporter_cwd,
        )  # fmt: skip
        try:
            exporter.wait_ready(lambda: requests.get(f"{exporter_url}/-/healthy", timeout=2).ok)
            # what Prometheus' /probe job asks (product-fetch only reads: no other run can disturb it)
            probe = next(job for job in prometheus_config()["scrape_configs"] if job.get("metrics_path") == "/probe")
            params = {"target": probe["static_configs"][0]["targets"][0], "workflow": probe["params"]["workflow"][0]}
            answer = requests.get(f"{exporter_url}{probe['metrics_path']}", params=params, timeout=15).text
            assert "probe_success 1.0" in answer.splitlines(), answer
            user_id = assert_traces_reach_every_source(shop_url, exporter_url, params)
            # `docker compose exec exporter workflow-exporter trace <id> --storage.path=data` (README): the working
            # directory's workflows.yml is the composed config, data/ its run store
            result = subprocess.run(
                [exporter_command[0], "trace", user_id, "--storage.path=data"],
                env=env,
                cwd=exporter_cwd,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            assert "GET api/products/ 200" in result.stdout and f"request_id='{user_id}'" in result.stdout
            stored = Path(exporter_paths(flags("exporter")["--storage.path"]))
            assert stored.is_dir() and any(stored.iterdir()), "the runs are kept on the exporter's volume"
        finally:
            exporter.stop()
        # one worker: the correlation ID reaches Prometheus as an exemplar (only in OpenMetrics)
        openmetrics = requests.get(
            f"{shop_url}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}, timeout=5
        ).text
        assert re.search(r'^django_request_duration_seconds_bucket\{.*# \{correlation_id="', openmetrics, re.M)
    finally:
        shop.stop()


def assert_traces_reach_every_source(shop_url: str, exporter_url: str, probe: dict[str, str]) -> str:
    """What an exemplar click finds on the composed exporter: a synthetic run's page with the slow statement under
    its step (the shop's log, the run store), and a real user's request (a django_* exemplar, no run) at
    /trace/<id> with its request line and its statements (the shop's log, performance_schema); returns that ID."""
    requests.put(f"{shop_url}/_demo/faults", json={"slow_products": True}, timeout=10).raise_for_status()
    try:
        answer = requests.get(f"{exporter_url}/probe", params=probe, timeout=15).text
    finally:
        requests.put(f"{shop_url}/_demo/faults", json={"slow_products": False}, timeout=10).raise_for_status()
    assert "probe_success" in answer, answer
    runs = requests.get(
        f"{exporter_url}/api/v1/runs", params={"workflow": probe["workflow"], "result": "degraded"}, timeout=10
    ).json()["data"]["runs"]
    assert runs, "the degraded probe run is in the store"
    deadline, section = time.monotonic() + 10, ""
    while "slow query" not in section and time.monotonic() < deadline:
        run_page = requests.get(f"{exporter_url}/runs/{runs[0]['id']}", timeout=30).text
        section = run_page.split('id="step-list-products"', 1)[1].split("<details", 1)[0]
        time.sleep(0.3)
    assert "slow query" in section and "SLEEP" in section, section

    user_id = f"compose-user-{os.urandom(8).hex()}"
    response = requests.get(f"{shop_url}/api/products/", headers={"X-Request-ID": user_id}, timeout=10)
    assert response.headers["X-Request-ID"] == user_id
    deadline = time.monotonic() + 10
    page = requests.get(f"{exporter_url}/trace/{user_id}", timeout=30)
    while page.status_code == 404 and time.monotonic() < deadline:  # the request line is written after the response
        time.sleep(0.3)
        page = requests.get(f"{exporter_url}/trace/{user_id}", timeout=30)
    assert page.status_code == 200, page.text
    assert "GET api/products/ 200" in page.text
    assert f"request_id=&#39;{user_id}&#39;" in page.text, "the request's statements, from performance_schema"
    sources = dict(re.findall(r"([\w ./:-]+?) \((\d+)\)(?:, |\.</p>)", page.text.split("Sources: ", 1)[1]))
    assert int(sources["log files"]) > 0 and int(sources["performance_schema on 127.0.0.1"]) > 0, sources
    assert 'class="failed"' not in page.text.split("Sources: ", 1)[1].split("<table>", 1)[0]
    return user_id


# --- Grafana's provisioning (written elsewhere) reaches the compose services ----------------------------------


def test_grafana_datasources_point_at_compose_services() -> None:
    provisioning = REPO / "grafana" / "provisioning"
    files = sorted((provisioning / "datasources").glob("*.y*ml"))
    assert files, f"no datasource files in {provisioning / 'datasources'}"
    datasources = [source for path in files for source in yaml.safe_load(path.read_text()).get("datasources", [])]
    assert any(source.get("type") == "prometheus" for source in datasources)
    for source in datasources:
        if source.get("url"):
            url = urlsplit(source["url"])
            assert_reaches_a_service(f"{url.hostname}:{url.port}", f"datasource {source.get('name')}")


def test_grafana_dashboard_providers_read_the_mounted_dashboards() -> None:
    provisioning = REPO / "grafana" / "provisioning"
    files = sorted((provisioning / "dashboards").glob("*.y*ml"))
    assert files, f"no dashboard provider files in {provisioning / 'dashboards'}"
    dashboards_dir = mount_target("grafana", "grafana/dashboards")
    providers = [provider for path in files for provider in yaml.safe_load(path.read_text()).get("providers", [])]
    assert providers
    for provider in providers:
        path = provider["options"]["path"]
        assert path == dashboards_dir or path.startswith(f"{dashboards_dir}/"), f"{provider.get('name')}: {path}"
        host_side = REPO / "grafana" / "dashboards" / path[len(dashboards_dir) :].lstrip("/")
        assert list(host_side.rglob("*.json")), f"provider {provider.get('name')} finds no dashboard in {host_side}"
