"""docker-compose.yml, checked as data (Docker is not needed): the promises the file makes.

Compose's own rules are not re-implemented here; what is checked is what this project relies on:
the services exist, Airflow is pinned to 3.3.x on Python 3.11, nothing listens beyond 127.0.0.1, the
folders the DAGs read are mounted, every ``${VAR}`` has a default, the Celery variant is a profile that
switches the executor, and the bus's endpoint serves the Oxigraph store.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")  # PyYAML comes with Airflow

PROJECT = Path(__file__).resolve().parents[2]
COMPOSE = PROJECT / "docker-compose.yml"
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
AIRFLOW_IMAGE = re.compile(r"^apache/airflow:3\.3\.\d+-python3\.11$")
#: ``${NAME}``, ``${NAME:-default}``, ``${NAME-default}`` (compose interpolation; ``$$`` is a literal ``$``)
VARIABLE = re.compile(r"(?<!\$)\$\{(?P<name>\w+)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")
CELERY_SERVICES = ("redis", "airflow-worker")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _resolve(value: str, env: dict[str, str] | None = None) -> str:
    """``value`` as compose interpolates it with the variables ``env`` (none set: every default applies)."""
    env = env or {}
    return VARIABLE.sub(lambda m: env.get(m["name"]) or m["default"] or "", value)


def _mounts(service: dict) -> dict[str, str]:
    """container path -> host source, for the short volume syntax."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        mounts[target] = source
    return mounts


def test_says_it_is_optional() -> None:
    head = COMPOSE.read_text(encoding="utf-8").split("\n\n", 1)[0]
    assert "full local stack" in head.lower()
    assert "make run" in head and "CLI" in head


def test_services(compose: dict) -> None:
    services = compose["services"]
    assert set(AIRFLOW_SERVICES) | {"postgres", "oxigraph"} <= set(services)
    assert re.fullmatch(r"postgres:16(\.\d+)*", services["postgres"]["image"])
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert _resolve(env["AIRFLOW__CORE__EXECUTOR"]) == "LocalExecutor"  # unless the Celery variant
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        assert env["TRANSISCOPE_HOME"]
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    init_env = services["airflow-init"]["environment"]
    assert init_env["_AIRFLOW_DB_MIGRATE"] == "true" and init_env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    for name in AIRFLOW_SERVICES[1:]:  # every long-running component starts after the init job
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_airflow_is_pinned_to_3_3(compose: dict) -> None:
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        dockerfile = service.get("build", {}).get("dockerfile_inline", "")
        bases = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE)
        images = bases or [service["image"]]
        assert images and all(AIRFLOW_IMAGE.match(image) for image in images), (name, images)
        if bases:  # the build step must not let pip move Airflow off the pinned version
            assert re.search(r'pip install .*"apache-airflow==3\.3\.\d+"', dockerfile)
            assert "-e /opt/transiscope" in dockerfile


def test_ports_are_bound_to_loopback(compose: dict) -> None:
    published = []
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            if isinstance(port, dict):  # long syntax
                assert port.get("host_ip") == "127.0.0.1", (name, port)
            else:
                assert str(port).startswith("127.0.0.1:"), (name, port)
            published.append(name)
    assert {"airflow-apiserver", "oxigraph", "transiscope-serve"} <= set(published)


def test_project_folders_are_mounted(compose: dict) -> None:
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        mounts = _mounts(service)
        assert mounts["/opt/airflow/dags"] == "./dags"
        assert mounts["/opt/airflow/plugins"] == "./plugins"
        for folder in ("transforms", "ontology", "expectations", "transiscope"):
            assert f"./{folder}" in mounts.values(), (name, folder)
        env = service["environment"]
        assert _mounts(service)[env["TRANSISCOPE_HOME"]] in compose["volumes"]  # runs + store on a volume
        # the territories the gaps DAG reads: the shared data folder, mounted read-only
        assert mounts[env["TRANSISCOPE_SHARED_DATA"]] == "../shared/data"
        registry = Path(env["TRANSISCOPE_REGISTRY"])
        assert mounts[str(registry.parent)] == "./transforms"
        for source in mounts.values():
            if source.startswith("./"):
                assert (PROJECT / source).is_dir(), source


def test_oxigraph_server(compose: dict) -> None:
    oxigraph = compose["services"]["oxigraph"]
    assert oxigraph["image"].startswith("ghcr.io/oxigraph/oxigraph:")
    command = oxigraph["command"]
    command = command.split() if isinstance(command, str) else command
    assert command[:1] == ["serve"]
    assert command[command.index("--location") + 1] == "/data"
    assert command[command.index("--bind") + 1] == "0.0.0.0:7878"
    assert _mounts(oxigraph)["/data"] in compose["volumes"]


def test_the_bus_writes_to_the_oxigraph_service(compose: dict) -> None:
    """In the full stack the store is the Oxigraph server, whose default graph is the union of named graphs."""
    services = compose["services"]
    command = services["oxigraph"]["command"]
    assert "--union-default-graph" in command and "serve" in command
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["TRANSISCOPE_STORE"] == "remote"
        for key in ("TRANSISCOPE_STORE_QUERY_URL", "TRANSISCOPE_STORE_UPDATE_URL", "TRANSISCOPE_STORE_GRAPH_STORE_URL"):
            assert env[key].startswith("http://oxigraph:7878/"), key
    for name in AIRFLOW_SERVICES[1:]:  # the init job only migrates the Airflow DB
        assert "oxigraph" in services[name]["depends_on"]


def test_every_variable_has_a_default() -> None:
    """``docker compose up`` with no variable set must work: each ``${VAR}`` carries its default."""
    text = COMPOSE.read_text(encoding="utf-8")
    used = list(VARIABLE.finditer(text))
    assert {m["name"] for m in used} >= {"AIRFLOW_EXECUTOR", "AIRFLOW_ADMIN_USER", "AIRFLOW_ADMIN_PASSWORD"}
    for match in used:
        assert match["op"] == ":-" and match["default"], f"{match[0]} has no default"
    assert "$" not in VARIABLE.sub("", text.replace("$$", "")), "a $VAR without braces and default"


def test_init_imports_the_pools_the_dags_use(compose: dict) -> None:
    """A task in a pool that does not exist is never scheduled: the init job creates them."""
    command = compose["services"]["airflow-init"]["command"]
    script = command if isinstance(command, str) else " ".join(command)
    pools_file = re.search(r"transiscope airflow-pools --out (\S+)", script)
    assert pools_file and f"airflow pools import {pools_file[1]}" in script


def test_celery_variant_is_a_profile(compose: dict) -> None:
    services = compose["services"]
    for name in CELERY_SERVICES:
        assert services[name].get("profiles") == ["celery"], name
    for name, service in services.items():  # the default stack is untouched by the profile
        if name not in CELERY_SERVICES:
            assert "profiles" not in service, name
    worker = services["airflow-worker"]
    assert worker["command"] == "celery worker"
    assert worker["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert worker["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert _mounts(worker) == _mounts(services["airflow-scheduler"])  # the same DAGs, package and volumes
    assert AIRFLOW_IMAGE.match(re.findall(r"^FROM\s+(\S+)", worker["build"]["dockerfile_inline"], re.M)[0])
    assert "ports" not in services["redis"] and "ports" not in worker  # reachable inside the stack only
    for name in AIRFLOW_SERVICES:  # AIRFLOW_EXECUTOR=CeleryExecutor switches every component
        env = services[name]["environment"]
        assert _resolve(env["AIRFLOW__CORE__EXECUTOR"], {"AIRFLOW_EXECUTOR": "CeleryExecutor"}) == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")


def test_the_endpoint_serves_the_oxigraph_store(compose: dict) -> None:
    services = compose["services"]
    serve = services["transiscope-serve"]
    assert serve["entrypoint"] == ["transiscope"] and serve["command"][0] == "serve"
    command = serve["command"]
    port = command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"  # inside its container; published on loopback
    assert serve["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert serve["image"] == services["airflow-scheduler"]["image"]  # the image the package is installed in
    env = serve["environment"]
    assert env["TRANSISCOPE_STORE"] == "remote"
    assert env["TRANSISCOPE_STORE_QUERY_URL"] == "http://oxigraph:7878/query"
    assert "oxigraph" in serve["depends_on"]
    mounts = _mounts(serve)
    for source in mounts.values():
        if source.startswith("./"):
            assert (PROJECT / source).is_dir(), source
    assert mounts["/opt/transiscope/queries"] == "./queries"  # the query page lists queries/*.rq
    # the reports and exports the DAGs write are the ones it serves
    home = env["TRANSISCOPE_HOME"]
    assert (
        mounts[home]
        == _mounts(services["airflow-scheduler"])[services["airflow-scheduler"]["environment"]["TRANSISCOPE_HOME"]]
    )
    assert Path(env["TRANSISCOPE_REGISTRY"]).parent.as_posix() in mounts
    # the Airflow UI's links point where it is published
    for name in AIRFLOW_SERVICES:
        assert services[name]["environment"]["TRANSISCOPE_PUBLIC_URL"] == f"http://127.0.0.1:{port}"
