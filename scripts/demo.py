"""``make demo``: migrate and seed the demo shop, then run it and the exporter with the shop's workflows
(and Prometheus and Alertmanager when installed; MariaDB and mysqld_exporter when installed, SQLite otherwise
(scripts/demo_database.py); and the Next.js storefront when Node.js 20.9+ is, with its browser journey when
Playwright and Chromium are: the demo extra brings Playwright, and Debian's chromium is installed here when missing
and allowed).

Everything binds 127.0.0.1. Ports come from SHOP_PORT, EXPORTER_PORT, FRONTEND_PORT, PROMETHEUS_PORT,
ALERTMANAGER_PORT, MARIADB_PORT and MYSQLD_EXPORTER_PORT. honcho runs the processes and stops all of them on Ctrl-C.
The storefront is installed from its lockfile and built by its own process (scripts/storefront.py; the first time
about a minute, then only what changed), so the shop and the exporter do not wait for it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("DEMO_STATE_DIR", ROOT / ".demo")).resolve()


def port(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isdigit() or not 0 < int(value) < 65536:
        sys.exit(f"{name}={value!r} is not a TCP port")
    return int(value)


def script(name: str) -> ModuleType:
    """scripts/<name>.py as a module (scripts/ is no package): storefront (builds and serves the storefront),
    demo_database (the demo's MariaDB)."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def storefront_script() -> ModuleType:
    """scripts/storefront.py, which builds and serves the storefront."""
    return script("storefront")


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "demo_shop", *args], env=env, cwd=ROOT, check=True)


def prometheus_config(
    shop_port: int, exporter_port: int, alertmanager_port: int | None, mysqld_exporter_port: int | None = None
) -> dict[str, object]:
    """Scrapes of the shop, the exporter, a blackbox-style /probe and (on MariaDB) mysqld_exporter as job
    ``mysql``, which the MySQL rules read; the shipped rules (the MySQL ones only with a MySQL to watch)."""
    mysql = [{"job_name": "mysql", "static_configs": [{"targets": [f"127.0.0.1:{mysqld_exporter_port}"]}]}]
    config: dict[str, object] = {
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "scrape_configs": [
            {"job_name": "demo-shop", "static_configs": [{"targets": [f"127.0.0.1:{shop_port}"]}]},
            {"job_name": "workflow-exporter", "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]},
            {
                # blackbox-style: one workflow run per scrape, through /probe
                "job_name": "workflow-probe",
                "metrics_path": "/probe",
                "params": {"workflow": ["product-fetch"]},
                "scrape_interval": "15s",
                "scrape_timeout": "10s",
                "static_configs": [{"targets": ["demo-shop"]}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": f"127.0.0.1:{exporter_port}"},
                ],
            },
            *(mysql if mysqld_exporter_port else []),
        ],
        # On SQLite, without a MySQL to watch, the MySQL rules would only report it absent.
        "rule_files": [
            str(path) for path in sorted((ROOT / "rules").glob("*.rules.yml"))
            if path.name != "mysql.rules.yml" or mysqld_exporter_port
        ],
    }  # fmt: skip
    if alertmanager_port:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]}
    return config


def demo_exporter_config(
    shop_log: Path, storefront: bool = False, prometheus: str | None = None, trace_mysql: bool = False
) -> str:
    """The shipped journeys plus a ``trace:`` section that reads the shop's log file (and, with ``trace_mysql``,
    the statements in MariaDB's performance_schema, as TRACE_DATABASE_URL's user) and, with the demo's
    ``prometheus`` URL, a ``report:`` section (``/report``); with ``storefront``, the storefront's browser journey
    (synthetic/workflows/storefront.yml) too."""
    shipped = (ROOT / "synthetic" / "workflows" / "demo_shop.yml").read_text()
    trace: dict[str, object] = {"logs": [str(shop_log)]}
    if trace_mysql:
        trace["mysql"] = [{"dsn": "${env:TRACE_DATABASE_URL}"}]
    sections: dict[str, object] = {"trace": trace}
    if prometheus:  # the demo's last hour against the hour before; rebuilt at most every minute
        sections["report"] = {"prometheus": prometheus, "since": "1h", "refresh": "1m"}
    added = yaml.safe_dump(sections)
    text = f"{shipped}\n# Added by make demo: the shop's JSON log, for /trace/<id>; the report's Prometheus.\n{added}"
    if not storefront:
        return text
    config = yaml.safe_load(text)
    journey = yaml.safe_load((ROOT / "synthetic" / "workflows" / "storefront.yml").read_text())
    config["targets"].update(journey["targets"])
    config["workflows"].update(journey["workflows"])
    header = "# Written by make demo: synthetic/workflows/demo_shop.yml and storefront.yml, and the shop's log.\n"
    return header + yaml.safe_dump(config, sort_keys=False)


def demo_alertmanager_config(shop_port: int) -> dict[str, object]:
    """The shipped routing (alertmanager/alertmanager.yml) unchanged, its webhook receivers pointed at the demo
    shop's notification receiver, whose page lists what arrived: /_demo/notifications/."""
    config = yaml.safe_load((ROOT / "alertmanager" / "alertmanager.yml").read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"http://127.0.0.1:{shop_port}/_demo/notifications/{receiver['name']}"
    return dict(config)


def prometheus_pages(binary: str) -> str:
    """Where the installed Prometheus serves its alerts page: Debian's package has no React UI (``/alerts`` is
    404) and keeps the classic one under ``/classic/``."""
    try:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        version = ""
    return "/classic/alerts" if "+ds" in version.split("\n", 1)[0] else "/alerts"


def without_password(url: str) -> str:
    """``url`` with the password of its userinfo replaced by ``***`` (a DATABASE_URL of the user's own)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def install_chromium() -> None:
    """Debian's ``chromium`` for the storefront's browser journey, when it is missing and we may install it (root or
    password-less sudo), as scripts/install-system-deps.sh does for ``make test``: Playwright drives the
    distribution's Chromium and downloads none. Otherwise nothing happens and the banner says what is missing.
    ``DEMO_INSTALL_CHROMIUM=0`` leaves the system alone."""
    from synthetic.steps.browser import chromium_path

    if os.environ.get("DEMO_INSTALL_CHROMIUM", "1") == "0" or importlib.util.find_spec("playwright") is None:
        return
    if chromium_path() is not None or os.environ.get("WORKFLOW_EXPORTER_CHROMIUM") or not shutil.which("apt-get"):
        return
    if os.geteuid() == 0:
        as_root: list[str] = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        as_root = ["sudo", "-n"]
    else:
        return
    print("make demo: installing chromium (apt-get) for the storefront's browser journey", flush=True)
    apt = [*as_root, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    try:
        for args in (["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", "chromium"]):
            if subprocess.run([*apt, *args], stdout=subprocess.DEVNULL, timeout=900).returncode != 0:
                break
    except (OSError, subprocess.SubprocessError) as error:
        print(f"make demo: could not install chromium: {error}", flush=True)


def browser_steps_problem() -> str | None:
    """Why the exporter cannot run browser steps here (no Playwright, no Chromium), or None."""
    from synthetic.steps.browser import missing_component

    return missing_component()


def main() -> None:
    ports = {
        "shop": port("SHOP_PORT", 8000),
        "exporter": port("EXPORTER_PORT", 9716),
        "frontend": port("FRONTEND_PORT", 3000),
        "prometheus": port("PROMETHEUS_PORT", 9090),
        "alertmanager": port("ALERTMANAGER_PORT", 9093),
        "mysqld_exporter": port("MYSQLD_EXPORTER_PORT", 9104),
    }
    STATE.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DEMO_PROBE_PASSWORD", "demo-probe-password")
    env.setdefault("DEMO_FAULTS_ENABLED", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("SHOP_URL", f"http://127.0.0.1:{ports['shop']}")
    frontend = f"http://127.0.0.1:{ports['frontend']}"
    # The shop trusts the storefront's origin: CORS for its API calls, /client-logs for its beacons.
    env.setdefault("CORS_ALLOWED_ORIGINS", f"{frontend},http://localhost:{ports['frontend']}")
    env.setdefault("STOREFRONT_URL", frontend)
    env.setdefault("STOREFRONT_FAULTS_ENABLED", "1")
    # The shop's JSON lines go to a file the exporter's trace reads (/trace/<id>, workflow-exporter trace).
    env.setdefault("DJANGO_LOG_FILE", str(STATE / "shop.log"))
    # Alertmanager's notifications (the shipped routing) land in the shop's demo receiver: /_demo/notifications/.
    env.setdefault("DEMO_NOTIFICATIONS_FILE", str(STATE / "notifications.jsonl"))

    database = script("demo_database")
    mariadb, no_mariadb = database.find(STATE, env)
    processes: dict[str, str] = {}
    wait_for_database = ""
    if mariadb:
        database.initialize(mariadb)
        env.update(database.environment(mariadb))
        processes["mariadb"] = f"exec {shlex.join(mariadb.command())} >>{shlex.quote(str(STATE / 'mariadb.log'))} 2>&1"
        # The shop and the exporter start once the server answers, so their first requests find it up.
        waiter = [sys.executable, str(ROOT / "scripts" / "demo_database.py"), "wait", str(mariadb.port)]
        wait_for_database = f"{shlex.join(waiter)} && "
    else:
        env.setdefault("DATABASE_URL", f"sqlite:///{STATE / 'shop.sqlite3'}")
        env.setdefault("SHOP_DATABASE_URL", env["DATABASE_URL"])
    with database.running(mariadb, STATE / "mariadb.log") if mariadb else contextlib.nullcontext():
        if mariadb:
            database.create_users(mariadb)
        manage(env, "migrate", "--no-input", "-v0")
        manage(env, "seed_shop")
        # The storefront's browser journey buys as its own user: checkout takes the whole cart.
        manage(env, "seed_shop", "--username", env.setdefault("DEMO_BROWSER_USER", "probe-browser"))

    processes["shop"] = (
        f"{wait_for_database}exec {sys.executable} -m gunicorn demo_shop.wsgi --bind 127.0.0.1:{ports['shop']}"
        " --workers 1 --threads 8 --graceful-timeout 5 --access-logfile -"
    )
    exporter_config = STATE / "workflows.yml"
    node_problem = storefront_script().node_problem()
    if node_problem is None:  # no storefront, no browser journey: nothing to install Chromium for
        install_chromium()
    browser_problem = browser_steps_problem()
    prometheus = shutil.which("prometheus")
    exporter_config.write_text(demo_exporter_config(
        Path(env["DJANGO_LOG_FILE"]), storefront=not node_problem and not browser_problem,
        prometheus=f"http://127.0.0.1:{ports['prometheus']}" if prometheus else None,
        trace_mysql=mariadb is not None))  # fmt: skip
    processes["exporter"] = (
        f"{wait_for_database}exec {sys.executable} -m exporter --config.file={exporter_config}"
        f" --web.listen-address=127.0.0.1:{ports['exporter']}"
        # Runs survive a restart of the demo (its run pages and exemplar links keep working); replays from the pages.
        f" --storage.path={STATE / 'exporter-data'} --web.enable-replay"
    )
    urls = {
        "demo shop": f"http://127.0.0.1:{ports['shop']}/api/products/",
        "exporter": f"http://127.0.0.1:{ports['exporter']}/",
        "OpenAPI": f"http://127.0.0.1:{ports['shop']}/api/schema/",
        "faults": f"http://127.0.0.1:{ports['shop']}/_demo/faults",
    }
    if node_problem is None:
        processes["storefront"] = (
            f"exec {sys.executable} {ROOT / 'scripts' / 'storefront.py'} serve --port {ports['frontend']}"
        )
        urls["storefront"] = f"{frontend}/  (built on its first start: about a minute)"
    alertmanager = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if alertmanager:
        routing = demo_alertmanager_config(ports["shop"])
        (STATE / "alertmanager.yml").write_text(yaml.safe_dump(routing, sort_keys=False))
        processes["alertmanager"] = (
            f"exec {alertmanager} --config.file={STATE / 'alertmanager.yml'} --storage.path={STATE / 'alertmanager'}"
            f" --web.listen-address=127.0.0.1:{ports['alertmanager']} --cluster.listen-address="
        )
        # Debian's Alertmanager has no web UI: its API (or amtool) shows the alerts.
        urls["Alertmanager"] = f"http://127.0.0.1:{ports['alertmanager']}/api/v2/alerts"
        urls["notifications"] = f"http://127.0.0.1:{ports['shop']}/_demo/notifications/"
    mysqld_exporter = shutil.which("prometheus-mysqld-exporter") or shutil.which("mysqld_exporter")
    if not mariadb:
        mysqld_exporter = None  # nothing to watch
    if mariadb and mysqld_exporter:
        (STATE / "mysqld-exporter.cnf").write_text(database.mysqld_exporter_config(mariadb))
        (STATE / "mysqld-exporter.cnf").chmod(0o600)
        processes["mysqld_exporter"] = shlex.join([
            "exec", mysqld_exporter, f"--config.my-cnf={STATE / 'mysqld-exporter.cnf'}",
            f"--web.listen-address=127.0.0.1:{ports['mysqld_exporter']}",
            *database.mysqld_exporter_flags()])  # fmt: skip
        urls["mysqld_exporter"] = f"http://127.0.0.1:{ports['mysqld_exporter']}/metrics"
    if prometheus:
        urls["report"] = f"http://127.0.0.1:{ports['exporter']}/report"
        config = prometheus_config(ports["shop"], ports["exporter"], ports["alertmanager"] if alertmanager else None,
                                   ports["mysqld_exporter"] if mariadb and mysqld_exporter else None)  # fmt: skip
        (STATE / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        processes["prometheus"] = (
            f"exec {prometheus} --config.file={STATE / 'prometheus.yml'} --storage.tsdb.path={STATE / 'prometheus'}"
            f" --web.listen-address=127.0.0.1:{ports['prometheus']} --enable-feature=exemplar-storage"
        )
        urls["Prometheus"] = f"http://127.0.0.1:{ports['prometheus']}{prometheus_pages(prometheus)}"
    missing = [name for name, path in (("prometheus", prometheus), ("alertmanager", alertmanager)) if not path]

    procfile = STATE / "Procfile"
    procfile.write_text("".join(f"{name}: {command}\n" for name, command in processes.items()))

    print("\nworkflow-exporter demo (Ctrl-C stops everything)")
    for name, url in urls.items():
        print(f"  {name:<15} {url}")
    print(f"  {'probe user':<15} probe / {env['DEMO_PROBE_PASSWORD']}")
    print(f"  {'shop log':<15} {env['DJANGO_LOG_FILE']} (JSON lines; /trace/<id> on the exporter reads it)")
    if mariadb:
        print(
            f"  {'database':<15} MariaDB on 127.0.0.1:{mariadb.port} (users of deploy/mysql/init.sql)"
            + ("" if mysqld_exporter else "; no mysqld_exporter (sudo apt-get install prometheus-mysqld-exporter)")
        )
    else:
        shown = without_password(env["DATABASE_URL"])
        print(f"  {'database':<15} {shown}" + (f" (no MariaDB: {no_mariadb})" if no_mariadb else ""))
    if missing:
        print(f"  not installed: {', '.join(missing)} (sudo apt-get install prometheus prometheus-alertmanager)")
    if node_problem:
        print(f"  no storefront: {node_problem}")
    elif browser_problem:
        print(f"  no browser journey (storefront-buy): {browser_problem}")
    print(flush=True)
    os.execve(
        sys.executable,
        [sys.executable, "-m", "honcho", "-f", str(procfile), "-d", str(ROOT), "start"],
        env,
    )


if __name__ == "__main__":
    main()
