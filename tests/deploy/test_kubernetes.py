"""deploy/kubernetes rendered as kustomize renders the production overlay, and every object checked
offline: the Kubernetes ones against the API's schemas (kubernetes-validate, its schemas bundled),
CloudNativePG's by the fields msnet relies on.

No kustomize renderer installs from PyPI for this Python (pykustomize needs 3.14), so the overlay
keeps to what ``render`` does: ``resources``, ``namespace``, ``images`` and ``patches`` in
strategic-merge form."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

KUBERNETES = Path(__file__).parents[2] / "deploy" / "kubernetes"
VERSION = "1.33.0"
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
Object = dict[str, Any]


def _documents(path: Path) -> list[Object]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def merge(base: Any, patch: Any) -> Any:
    """A strategic-merge patch of ``base``: maps merged key by key, lists of maps that all have a
    ``name`` (containers, env, volumes, ports) merged item by item on it, other lists replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value) if key in base else value
        return merged
    named = isinstance(base, list) and isinstance(patch, list)
    if named and all(isinstance(i, dict) and "name" in i for i in base + patch):
        items = {item["name"]: item for item in base}
        for item in patch:
            items[item["name"]] = merge(items[item["name"]], item) if item["name"] in items else item
        return list(items.values())
    return patch


def render(directory: Path) -> list[Object]:
    """The objects of a kustomization, as ``kubectl kustomize directory`` makes them."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
    assert not unknown, f"render does not do {unknown}"
    objects: list[Object] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        objects += render(path) if path.is_dir() else copy.deepcopy(_documents(path))
    for entry in kustomization.get("patches", []):
        for patch in _documents(directory / entry["path"]):
            (i,) = [i for i, o in enumerate(objects) if _key(o) == _key(patch)]
            objects[i] = merge(objects[i], patch)
    for image in kustomization.get("images", []):
        for obj in objects:
            for container in _containers(obj):
                if container["image"].split(":")[0] == image["name"]:
                    container["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    if namespace := kustomization.get("namespace"):
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = namespace
    return objects


def _key(obj: Object) -> tuple[str, str, str]:
    return obj["apiVersion"], obj["kind"], obj["metadata"]["name"]


def _pod(obj: Object) -> Object | None:
    if obj["kind"] in ("Deployment", "Job"):
        return obj["spec"]["template"]["spec"]
    return None


def _containers(obj: Object) -> list[Object]:
    pod = _pod(obj)
    return [] if pod is None else pod.get("initContainers", []) + pod["containers"]


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], Object]:
    rendered = render(KUBERNETES / "production")
    assert len({(o["kind"], o["metadata"]["name"]) for o in rendered}) == len(rendered)
    return {(o["kind"], o["metadata"]["name"]): o for o in rendered}


def test_merge() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]}
    patch = {"a": {"c": [3]}, "env": [{"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}]}
    assert merge(base, patch) == {
        "a": {"b": 1, "c": [3]},
        "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "3"}, {"name": "Z", "value": "4"}],
    }


def test_every_kubernetes_object_is_valid(objects: dict[tuple[str, str], Object]) -> None:
    checked = 0
    for obj in objects.values():
        if obj["apiVersion"].startswith("postgresql.cnpg.io/"):
            continue
        kubernetes_validate.validate(obj, VERSION, strict=True)
        checked += 1
    kinds = {kind for kind, _ in objects}
    assert {
        "Deployment", "Job", "Service", "Ingress", "PodDisruptionBudget", "HorizontalPodAutoscaler",
        "NetworkPolicy", "ConfigMap", "Cluster", "ScheduledBackup",
    } <= kinds  # fmt: skip
    assert checked == len(objects) - 2
    assert "Secret" not in kinds  # secrets by reference only
    assert all(o["metadata"]["namespace"] == "msnet" for o in objects.values())


def test_the_overlay_applies(objects: dict[tuple[str, str], Object]) -> None:
    api = objects["Deployment", "msnet-api"]
    (container,) = api["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["MSNET_PROCESSES"]["value"] == "2"
    assert env["MSNET_WORKER"]["value"] == "off"  # kept from the base
    assert all(
        c["image"] == "registry.example.org/msnet:0.1.0" for o in objects.values() for c in _containers(o)
    )
    ingress = objects["Ingress", "msnet"]
    config = objects["ConfigMap", "msnet"]
    assert config["data"]["public-url"] == f"https://{ingress['spec']['tls'][0]['hosts'][0]}"
    assert ingress["spec"]["rules"][0]["host"] == ingress["spec"]["tls"][0]["hosts"][0]


def test_the_api_is_probed_limited_and_locked_down(objects: dict[tuple[str, str], Object]) -> None:
    for name in ("Deployment", "msnet-api"), ("Deployment", "msnet-worker"), ("Job", "msnet-migrate"):
        pod = _pod(objects[name])
        assert pod is not None
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert {"name": "tmp", "emptyDir": {}} in pod["volumes"], name
        for container in _containers(objects[name]):
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name  # noqa: S108
            assert set(container["resources"]) == {"requests", "limits"}, name
            assert "MSNET_DATABASE_ADMIN_URL" not in {e["name"] for e in container["env"]} or name[0] == "Job"
    (api,) = objects["Deployment", "msnet-api"]["spec"]["template"]["spec"]["containers"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health/live"
    for workload in ("msnet-api", "msnet-worker"):
        (init,) = objects["Deployment", workload]["spec"]["template"]["spec"]["initContainers"]
        assert init["args"] == ["migrate", "--check"]


def test_the_api_is_reached_through_its_selectors(objects: dict[tuple[str, str], Object]) -> None:
    labels = objects["Deployment", "msnet-api"]["spec"]["template"]["metadata"]["labels"]
    assert objects["Service", "msnet-api"]["spec"]["selector"].items() <= labels.items()
    assert (
        objects["PodDisruptionBudget", "msnet-api"]["spec"]["selector"]["matchLabels"].items()
        <= labels.items()
    )
    assert objects["NetworkPolicy", "msnet-api-ingress"]["spec"]["podSelector"]["matchLabels"].items() <= (
        labels.items()
    )
    hpa = objects["HorizontalPodAutoscaler", "msnet-api"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "msnet-api"}
    assert objects["PodDisruptionBudget", "msnet-api"]["spec"]["minAvailable"] < hpa["minReplicas"]
    backend = objects["Ingress", "msnet"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "msnet-api", "port": {"name": "http"}}


def test_the_database_is_a_cloudnativepg_cluster_with_backups(objects: dict[tuple[str, str], Object]) -> None:
    cluster = objects["Cluster", "msnet-db"]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    spec = cluster["spec"]
    assert spec["instances"] == 3
    assert spec["storage"]["size"] == "100Gi"
    assert spec["bootstrap"]["initdb"]["database"] == "msnet"
    assert spec["bootstrap"]["initdb"]["owner"] == "msnet_owner"
    assert spec["bootstrap"]["initdb"]["secret"]["name"]
    (app,) = spec["managed"]["roles"]
    assert (app["name"], app["login"], app["superuser"], app["bypassrls"]) == (
        "msnet_app",
        True,
        False,
        False,
    )
    assert app["passwordSecret"]["name"]
    store = spec["backup"]["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://")
    assert {store["s3Credentials"][k]["name"] for k in ("accessKeyId", "secretAccessKey")} == {
        "msnet-backup-s3"
    }
    assert store["wal"]["compression"]
    scheduled = objects["ScheduledBackup", "msnet-db-daily"]["spec"]
    assert scheduled["cluster"]["name"] == "msnet-db"
    assert len(scheduled["schedule"].split()) == 6  # CloudNativePG's schedules have seconds
