"""deploy/kubernetes/: rendered by kubectl's kustomize, every built-in object valid against the Kubernetes
schemas of kubernetes-validate (strict), the Prometheus Operator's objects against the fields of their CRDs, the
PrometheusRule groups equal to rules/ and checked by promtool, and the generated files free of drift."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from exporter.sharding import Shard
from synthetic.config import load_config
from tests.harness.processes import require_binary

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = REPO_ROOT / "deploy" / "kubernetes"
GENERATOR = KUBERNETES / "generate.py"
RULES = REPO_ROOT / "rules"
DASHBOARDS = REPO_ROOT / "grafana" / "dashboards"
# The oldest Kubernetes release still in wide use with the pod-index label, and kubernetes-validate's newest.
KUBERNETES_VERSIONS = ["1.28.0", "1.37.0"]
OPERATOR_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}


def run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GENERATOR), *args], capture_output=True, text=True, timeout=120)


def kustomize(directory: Path = KUBERNETES) -> list[dict[str, Any]]:
    """Render a kustomization with the real kustomize (kubectl's, which needs no cluster)."""
    kubectl = require_binary("kubectl")
    result = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return kustomize()


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_regenerating_changes_nothing() -> None:
    result = run_generator("--check")
    assert result.returncode == 0, f"deploy/kubernetes is stale, regenerate it:\n{result.stderr}"


def test_check_mode_names_the_files_that_would_change(tmp_path: Path) -> None:
    out = tmp_path / "k"
    assert run_generator("--output-dir", str(out)).returncode == 0
    (out / "prometheusrule.yaml").write_text("# stale\n")

    result = run_generator("--check", "--output-dir", str(out))

    assert result.returncode == 1
    assert set(re.findall(r"would change: \S+/([\w.-]+)", result.stderr)) == {"prometheusrule.yaml"}
    assert (out / "prometheusrule.yaml").read_text() == "# stale\n", "--check must not write"
    assert run_generator("--output-dir", str(out)).returncode == 0
    assert run_generator("--check", "--output-dir", str(out)).returncode == 0


def test_every_manifest_is_in_the_kustomization() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    files = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)
    # Only what kustomize from kubectl 1.20 (Debian's kubernetes-client) understands as well.
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "resources", "images"}


def test_rendering_gives_every_part_in_one_namespace(rendered: list[dict[str, Any]]) -> None:
    kinds = sorted(o["kind"] for o in rendered)
    assert kinds.count("PrometheusRule") == len(list(RULES.glob("*.rules.yml")))
    assert kinds.count("ConfigMap") == len(list(DASHBOARDS.glob("*.json"))) + 1
    for kind in ("Namespace", "Service", "StatefulSet", "NetworkPolicy", "ServiceMonitor", "PodMonitor"):
        assert kinds.count(kind) == 1, kind
    assert {o["metadata"].get("namespace") for o in rendered if o["kind"] != "Namespace"} == {"workflow-exporter"}
    assert by_kind(rendered, "StatefulSet")[0]["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "workflow-exporter:0.1.0"
    )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_builtin_objects_are_valid_kubernetes(rendered: list[dict[str, Any]], version: str) -> None:
    for obj in rendered:
        if obj["kind"] in OPERATOR_KINDS:
            continue
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize(
    ("kind", "mutate"),
    [
        ("StatefulSet", lambda o: o["spec"]["template"]["spec"].update(container=[])),  # a typo: strict rejects it
        ("StatefulSet", lambda o: o["spec"].update(replicas="two")),
        ("Service", lambda o: o["spec"]["ports"][0].update(port="http")),
        ("NetworkPolicy", lambda o: o["spec"].update(policyTypes="Ingress")),
    ],
)
def test_the_validator_rejects_a_broken_object(rendered: list[dict[str, Any]], kind: str, mutate: Any) -> None:
    obj = yaml.safe_load(yaml.safe_dump(by_kind(rendered, kind)[0]))
    mutate(obj)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, KUBERNETES_VERSIONS[-1], strict=True)


# The fields of the Prometheus Operator's v1 CRDs (monitoring.coreos.com_{servicemonitors,podmonitors,
# prometheusrules}.yaml) that these manifests use, with the CRDs' types and required fields; unknown fields are
# errors, as the API server's structural-schema pruning would silently drop them.
_METADATA = {"type": "object", "required": ["name"]}
_ENDPOINT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "port": {"type": "string"},
        "path": {"type": "string"},
        "interval": {
            "type": "string",
            "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
        },
        "scrapeTimeout": {"type": "string"},
        "honorLabels": {"type": "boolean"},
        "authorization": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "type": {"type": "string"},
                "credentials": {
                    "type": "object",
                    "required": ["key"],
                    "additionalProperties": False,
                    "properties": {"name": {"type": "string"}, "key": {"type": "string"}},
                },
            },
        },
    },
}
_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}},
}
_NAMESPACES = {"type": "object", "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array"}}}


def _object(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "kind": {"type": "string"},
            "metadata": _METADATA,
            "spec": spec,
        },
    }


CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": _object(
        {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": _SELECTOR,
                "namespaceSelector": _NAMESPACES,
                "endpoints": {"type": "array", "items": _ENDPOINT},
            },
        }
    ),
    "PodMonitor": _object(
        {
            "type": "object",
            "required": ["selector"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": _SELECTOR,
                "namespaceSelector": _NAMESPACES,
                "podMetricsEndpoints": {"type": "array", "items": _ENDPOINT},
            },
        }
    ),
    "PrometheusRule": _object(
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": {"type": "string"},
                            "rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["expr"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "record": {"type": "string"},
                                        "alert": {"type": "string"},
                                        "expr": {"type": ["string", "integer"]},
                                        "for": {"type": "string"},
                                        "keep_firing_for": {"type": "string", "minLength": 1},
                                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                        "annotations": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                }
            },
        }
    ),
}


def test_operator_objects_use_only_fields_of_their_crds(rendered: list[dict[str, Any]]) -> None:
    for obj in rendered:
        if obj["kind"] in OPERATOR_KINDS:
            jsonschema.validate(obj, CRD_SCHEMAS[obj["kind"]])


def test_the_crd_check_rejects_a_misspelt_field(rendered: list[dict[str, Any]]) -> None:
    monitor = yaml.safe_load(yaml.safe_dump(by_kind(rendered, "ServiceMonitor")[0]))
    monitor["spec"]["endpoints"][0]["scrape_interval"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, CRD_SCHEMAS["ServiceMonitor"])


def test_scrapes_select_what_they_scrape(rendered: list[dict[str, Any]]) -> None:
    """The ServiceMonitor finds the Service, the Service the pods, on the port they name; job=workflow-exporter."""
    service = by_kind(rendered, "Service")[0]
    monitor = by_kind(rendered, "ServiceMonitor")[0]
    pod = by_kind(rendered, "StatefulSet")[0]["spec"]["template"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert service["metadata"]["name"] == "workflow-exporter"  # the job label rules/ and grafana/ select
    assert "jobLabel" not in monitor["spec"]
    port_names = {p["name"] for p in pod["spec"]["containers"][0]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= port_names
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    policy = by_kind(rendered, "NetworkPolicy")[0]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def _wrapper_args(pod_name: str, tmp_path: Path, shards: str) -> list[str]:
    """Run the container's real shell command with a stand-in `workflow-exporter` that prints its arguments."""
    container = yaml.safe_load((KUBERNETES / "exporter-statefulset.yaml").read_text())["spec"]["template"]["spec"][
        "containers"
    ][0]
    stand_in = tmp_path / "workflow-exporter"
    stand_in.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    stand_in.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "POD_NAME": pod_name, "SHARDS": shards}
    result = subprocess.run([*container["command"], *container["args"]], env=env, capture_output=True, text=True,
                            timeout=30, check=True)  # fmt: skip
    return result.stdout.splitlines()


def test_each_replica_runs_its_own_shard(tmp_path: Path) -> None:
    statefulset = yaml.safe_load((KUBERNETES / "exporter-statefulset.yaml").read_text())
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    shards = next(e["value"] for e in container["env"] if e["name"] == "SHARDS")
    assert int(shards) == statefulset["spec"]["replicas"], "SHARDS must equal replicas"
    seen = []
    for ordinal in range(statefulset["spec"]["replicas"]):
        args = _wrapper_args(f"workflow-exporter-{ordinal}", tmp_path, shards)
        (flag,) = [a for a in args if a.startswith("--shard=")]
        seen.append(Shard.parse(flag.removeprefix("--shard=")))
    assert seen == [Shard(i, int(shards)) for i in range(int(shards))]
    # A pairs' owner is exactly one replica.
    assert all(sum(s.owns(f"w{n}", "t") for s in seen) == 1 for n in range(50))
    storage = [a for a in args if a.startswith("--storage.path=")]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert storage == [f"--storage.path={mounts['data']}"]
    assert [c["metadata"]["name"] for c in statefulset["spec"]["volumeClaimTemplates"]] == ["data"]


def test_the_configmap_config_loads_with_its_secret_files(tmp_path: Path) -> None:
    """The shipped workflows.yml is valid once the Secret's files exist where the pod mounts them."""
    config_map = yaml.safe_load((KUBERNETES / "exporter-config.yaml").read_text())
    text = config_map["data"]["workflows.yml"]
    statefulset = yaml.safe_load((KUBERNETES / "exporter-statefulset.yaml").read_text())
    mounts = {
        m["name"]: m["mountPath"] for m in statefulset["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    secret_files = sorted(set(re.findall(r"_file: (\S+)", text)))
    assert secret_files and all(Path(f).parent == Path(mounts["secrets"]) for f in secret_files)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in secret_files:
        path = secrets / Path(name).name
        path.write_text("mysql://reader:pw@db:3306/shop\n" if "dsn" in name else "s3cret\n")
        path.chmod(0o400)
    config = tmp_path / "workflows.yml"
    config.write_text(text.replace(mounts["secrets"], str(secrets)))
    loaded = load_config(config)
    assert sorted(loaded.workflows) == ["login", "product-fetch"]


def _operator_rule_files(rendered: list[dict[str, Any]], directory: Path) -> list[Path]:
    paths = []
    for rule in by_kind(rendered, "PrometheusRule"):
        concern = rule["metadata"]["name"].removeprefix("workflow-exporter-")
        path = directory / f"{concern}.rules.yml"
        path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
        paths.append(path)
    return paths


def test_prometheusrule_groups_are_the_rules_files(rendered: list[dict[str, Any]]) -> None:
    extracted = {r["metadata"]["name"]: r["spec"]["groups"] for r in by_kind(rendered, "PrometheusRule")}
    source = {
        f"workflow-exporter-{p.name.removesuffix('.rules.yml')}": yaml.safe_load(p.read_text())["groups"]
        for p in RULES.glob("*.rules.yml")
    }
    assert extracted == source


def test_prometheusrule_groups_pass_promtool(rendered: list[dict[str, Any]], tmp_path: Path) -> None:
    """Extracted from the rendered objects, the groups pass promtool's check. (They equal rules/, whose promtool
    unit tests tests/bundle/test_rules.py runs.)"""
    promtool = require_binary("promtool")
    paths = _operator_rule_files(rendered, tmp_path)
    check = subprocess.run([promtool, "check", "rules", "--lint=duplicate-rules", "--lint-fatal", *map(str, paths)],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("SUCCESS") == len(paths)


def test_promtool_rejects_a_broken_extracted_group(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    broken = tmp_path / "broken.rules.yml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "rate(x[5m]"}]}]}))
    assert subprocess.run([promtool, "check", "rules", str(broken)], capture_output=True, timeout=60).returncode != 0


def test_dashboard_configmaps_hold_the_committed_json(rendered: list[dict[str, Any]]) -> None:
    maps = [o for o in by_kind(rendered, "ConfigMap") if o["metadata"]["labels"].get("grafana_dashboard") == "1"]
    assert {name: text for m in maps for name, text in m["data"].items()} == {
        p.name: p.read_text(encoding="utf-8") for p in DASHBOARDS.glob("*.json")
    }
    # Client-side `kubectl apply` keeps a copy in an annotation of at most 256 KiB.
    assert all(len(yaml.safe_dump(m)) < 256 * 1024 for m in maps)


def test_docs_state_what_the_manifests_set() -> None:
    """docs/deploy.md quotes the StatefulSet's sizes and flags; they must be the committed ones."""
    docs = (REPO_ROOT / "docs" / "deploy.md").read_text()
    statefulset = yaml.safe_load((KUBERNETES / "exporter-statefulset.yaml").read_text())
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    resources = container["resources"]
    storage = statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    assert f"requests {resources['requests']['cpu']} CPU and {resources['requests']['memory'][:-2]} MiB" in docs
    assert f"limits memory to {resources['limits']['memory'][:-2]} MiB" in docs
    data = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "data")
    assert f"({storage[:-2]} GiB, mounted\n  at `{data}`)" in docs
    (retention,) = re.findall(r"--storage\.retention\.size=\S+", container["args"][0])
    assert f"`{retention}`" in docs


def test_the_documented_probe_job_passes_promtool(tmp_path: Path) -> None:
    """The /probe scrape job that docs/deploy.md gives for Kubernetes is a valid Prometheus scrape config."""
    promtool = require_binary("promtool")
    docs = (REPO_ROOT / "docs" / "deploy.md").read_text()
    (block,) = re.findall(r"<!-- deploy:probe-scrape -->\n```yaml\n(.*?)```", docs, re.DOTALL)
    jobs = yaml.safe_load(block)
    assert jobs[0]["params"]["workflow"] and jobs[0]["metrics_path"] == "/probe"
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"scrape_configs": jobs}))
    result = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


OVERLAY = REPO_ROOT / "deploy" / "kube-prometheus-stack"
RELEASE_SELECTED = {"PrometheusRule", "ServiceMonitor", "PodMonitor"}  # kube-prometheus-stack's *Selector defaults


def _overlay_copy(tmp_path: Path, uncomment: tuple[str, ...]) -> Path:
    """deploy/kubernetes and the overlay copied side by side (kustomize wants relative paths), with the commented
    list items of the overlay whose text contains one of ``uncomment`` made live, as a user would uncomment them."""
    tree = tmp_path / "deploy"
    shutil.copytree(KUBERNETES, tree / "kubernetes")
    overlay = tree / "mine"
    overlay.mkdir()
    lines = (OVERLAY / "kustomization.yaml").read_text().splitlines()
    out, live = [], False
    for line in lines:
        if line.startswith("  # - "):  # a commented list item; its body follows at a deeper indent
            live = any(word in text for word in uncomment for text in [line, *_item_body(lines, line)])
        elif not line.startswith("  #    "):
            live = False
        out.append("  " + line[4:] if live else line)
    (overlay / "kustomization.yaml").write_text("\n".join(out) + "\n")
    return overlay


def _item_body(lines: list[str], first: str) -> list[str]:
    start = lines.index(first) + 1
    body = []
    for line in lines[start:]:
        if not line.startswith("  #    "):
            break
        body.append(line)
    return body


def _released(objects: list[dict[str, Any]]) -> None:
    """What a kube-prometheus-stack release `kube-prometheus-stack` in `monitoring` needs of the rendered bundle."""
    for obj in objects:
        if obj["kind"] in RELEASE_SELECTED:
            assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack", obj["metadata"]["name"]
        if obj["kind"] not in OPERATOR_KINDS:
            kubernetes_validate.validate(obj, KUBERNETES_VERSIONS[-1], strict=True)
        else:
            jsonschema.validate(obj, CRD_SCHEMAS[obj["kind"]])
    image = by_kind(objects, "StatefulSet")[0]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example/workflow-exporter:0.1.0"  # a registry host, not Docker Hub's library
    (namespace,) = by_kind(objects, "Namespace")
    assert namespace["metadata"]["name"] == "workflow-exporter"  # never the monitoring namespace renamed
    (source,) = by_kind(objects, "NetworkPolicy")[0]["spec"]["ingress"][0]["from"]
    assert source["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    assert source["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}


GENERATED = ("prometheusrule.yaml", "grafana-dashboards.yaml")


@pytest.mark.parametrize("optional", [(), ("workflow-exporter-mysql",), GENERATED], ids=["shipped", "no-mysql", "urls"])
def test_the_kube_prometheus_stack_overlay_renders_what_the_release_selects(
    tmp_path: Path, optional: tuple[str, ...]
) -> None:
    """deploy/kube-prometheus-stack/ as shipped, and with each of its optional parts uncommented: the monitors and
    rules carry the release label, the image names a registry, Prometheus' namespace is the one admitted, every
    object stays valid; dropping the MySQL rules drops only them; the generated copies with a cluster's URLs
    replace every localhost link and nothing else."""
    overlay = _overlay_copy(tmp_path, optional)
    if optional == GENERATED:
        urls = ["--grafana-url", "https://grafana.example.com", "--exporter-url", "https://runs.example.com"]
        assert run_generator(*urls, "--output-dir", str(overlay)).returncode == 0
    objects = kustomize(overlay)
    _released(objects)
    rules = {r["metadata"]["name"]: r["spec"]["groups"] for r in by_kind(objects, "PrometheusRule")}
    shipped = {r["metadata"]["name"]: r["spec"]["groups"] for r in by_kind(kustomize(), "PrometheusRule")}
    text = yaml.safe_dump_all(objects)
    if optional == ("workflow-exporter-mysql",):
        assert rules == {name: groups for name, groups in shipped.items() if name != "workflow-exporter-mysql"}
    elif optional == GENERATED:
        assert "localhost" not in text
        assert "https://grafana.example.com/d/" in text and "https://runs.example.com/" in text
        back = yaml.safe_load(yaml.safe_dump(rules).replace("https://grafana.example.com", "http://localhost:3000"))
        assert back == shipped
    else:
        assert rules == shipped
        assert "http://localhost:3000/d/" in text  # the links generate.py rewrites for a cluster


def test_the_documented_helm_values_match_the_bundle() -> None:
    """The kube-prometheus-stack values docs/deploy.md gives: exemplar storage on (the IDs ride on exemplars), the
    sidecar finding the dashboards' ConfigMaps (label, namespace, folder annotation), and a Prometheus data source
    with the uid the dashboards default to and the same exemplar links as grafana/provisioning's, at the
    address the doc's generate.py command uses for the exporter."""
    docs = (REPO_ROOT / "docs" / "deploy.md").read_text()
    (block,) = re.findall(r"<!-- deploy:kube-prometheus-stack-values -->\n```yaml\n(.*?)```", docs, re.DOTALL)
    values = yaml.safe_load(block)
    assert "exemplar-storage" in values["prometheus"]["prometheusSpec"]["enableFeatures"]
    sidecar = values["grafana"]["sidecar"]["dashboards"]
    maps = by_kind(kustomize(), "ConfigMap")
    dashboards = [m for m in maps if m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    assert dashboards and sidecar["searchNamespace"] == "ALL"
    assert all(sidecar["folderAnnotation"] in m["metadata"]["annotations"] for m in dashboards)
    (source,) = values["grafana"]["additionalDataSources"]
    assert values["grafana"]["sidecar"]["datasources"]["defaultDatasourceEnabled"] is False
    defaults = {
        v["current"]["value"]
        for p in DASHBOARDS.glob("*.json")
        for v in json.loads(p.read_text())["templating"]["list"]
        if v["type"] == "datasource"
    }
    assert defaults == {source["uid"]} and source["isDefault"] is True
    datasources = REPO_ROOT / "grafana" / "provisioning" / "datasources" / "datasources.yml"
    provisioned = yaml.safe_load(datasources.read_text())
    (prometheus,) = [d for d in provisioned["datasources"] if d["type"] == "prometheus"]
    exporter = re.search(r"--exporter-url (\S+)", docs)
    assert exporter is not None
    local = [
        {**link, "url": link["url"].replace("http://localhost:9716", exporter.group(1))}
        for link in prometheus["jsonData"]["exemplarTraceIdDestinations"]
    ]
    assert source["jsonData"]["exemplarTraceIdDestinations"] == local
