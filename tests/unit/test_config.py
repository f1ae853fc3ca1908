"""compose_gen/config.py: where the settings come from, their defaults, and how they fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from compose_gen.cli import main
from compose_gen.config import (
    CONFIG_FILE_NAME,
    DEFAULT_PORT_NAMES,
    PortsConfig,
    load_config,
    parse_config,
)
from compose_gen.errors import ConfigError, ExitCode


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(directory: Path, **environ: str):
    return load_config(directory, environ=environ)


# --- defaults and discovery --------------------------------------------------------------

def test_an_empty_pyproject_table_gives_every_documented_default(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[project]\nname = 'app'\n\n[tool.compose-gen]\n")

    config = load(tmp_path)

    assert config.compose_files == ("docker-compose.yml",)
    assert config.project_prefix == "zf"
    assert config.tasks_dir == ".zenflow/tasks"
    assert (config.ports.range_start, config.ports.block_size, config.ports.slots) == (
        20000, 20, 600)
    assert dict(config.ports.names) == DEFAULT_PORT_NAMES
    db = config.database
    assert (db.service, db.port, db.password_env, db.url_env, db.name_prefix) == (
        "db", 5432, "POSTGRES_PASSWORD", "DATABASE_URL", "test_e2e")
    assert (config.workers.services, config.workers.default, config.workers.max) == ((), 2, 8)
    assert config.media.volume is None
    assert config.project_dir == tmp_path.resolve()
    assert config.source == (tmp_path / "pyproject.toml").resolve()


def test_the_default_range_sits_below_the_linux_ephemeral_range() -> None:
    ports = PortsConfig()
    assert ports.range_end == 20000 + 600 * 20 - 1 == 31999 < 32768


def test_compose_gen_toml_wins_over_pyproject_in_the_same_directory(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.compose-gen]\nproject_prefix = 'frompy'\n")
    write(tmp_path / CONFIG_FILE_NAME, "project_prefix = 'fromtoml'\n")

    config = load(tmp_path)

    assert config.project_prefix == "fromtoml"
    assert config.source == (tmp_path / CONFIG_FILE_NAME).resolve()


def test_pyproject_sections_are_read_under_tool_compose_gen(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", """
[tool.compose-gen]
compose_files = ["compose.yml", "compose.ci.yml"]
[tool.compose-gen.ports]
range_start = 21000
names = { db = "PG_PORT" }
[tool.compose-gen.database]
seed_command = ["python", "seed.py"]
seed_service = "backend"
[tool.compose-gen.workers]
services = ["backend"]
[tool.compose-gen.media]
volume = "media"
""")

    config = load(tmp_path)

    assert config.compose_files == ("compose.yml", "compose.ci.yml")
    assert config.ports.range_start == 21000
    assert config.ports.env_name("db") == "PG_PORT"
    assert config.ports.env_name("my-api.v2") == "MY_API_V2_PORT"
    assert config.database.seed_command == ("python", "seed.py")
    assert config.workers.services == ("backend",)
    assert config.workers.base_url_service == "backend"
    assert config.media.volume == "media"


def test_config_is_found_from_a_subdirectory_and_the_project_is_its_folder(
        tmp_path: Path) -> None:
    write(tmp_path / CONFIG_FILE_NAME, "project_prefix = 'up'\n")
    deep = tmp_path / "src" / "pkg" / "sub"
    deep.mkdir(parents=True)
    # A pyproject.toml without our table on the way up must not stop the search.
    write(tmp_path / "src" / "pyproject.toml", "[project]\nname = 'inner'\n")

    config = load(deep)

    assert config.project_prefix == "up"
    assert config.project_dir == tmp_path.resolve()
    assert config.tasks_path == (tmp_path / ".zenflow" / "tasks").resolve()


def test_the_nearest_config_wins_over_one_further_up(tmp_path: Path) -> None:
    write(tmp_path / CONFIG_FILE_NAME, "project_prefix = 'outer'\n")
    write(tmp_path / "inner" / "pyproject.toml", "[tool.compose-gen]\nproject_prefix = 'inner'\n")

    assert load(tmp_path / "inner").project_prefix == "inner"


def test_an_explicit_config_file_is_used_as_is(tmp_path: Path) -> None:
    explicit = write(tmp_path / "elsewhere" / "pyproject.toml",
                     "[tool.compose-gen]\nproject_prefix = 'explicit'\n")
    write(tmp_path / CONFIG_FILE_NAME, "project_prefix = 'nearby'\n")

    assert load_config(tmp_path, config_file=explicit, environ={}).project_prefix == "explicit"
    from_env = load_config(tmp_path, environ={"COMPOSE_GEN_CONFIG": str(explicit)})
    assert from_env.project_prefix == "explicit"


def test_an_explicit_pyproject_without_our_table_is_an_error(tmp_path: Path) -> None:
    explicit = write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml has no \[tool\.compose-gen\]"):
        load_config(tmp_path, config_file=explicit, environ={})


def test_no_config_anywhere_says_what_to_add(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no compose-gen configuration") as info:
        load(tmp_path)
    assert "[tool.compose-gen]" in str(info.value)
    assert CONFIG_FILE_NAME in str(info.value)


def test_no_config_through_the_cli_is_one_line_and_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)

    code = main(["render", "--task-id", "t1"])

    err = capsys.readouterr().err
    assert code == ExitCode.USAGE == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert "no compose-gen configuration" in err and "compose-gen.toml" in err
    assert not (tmp_path / ".zenflow").exists()


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / CONFIG_FILE_NAME, "project_prefix = \n")
    with pytest.raises(ConfigError, match="invalid TOML") as info:
        load(tmp_path)
    assert str(path) in str(info.value)


# --- unknown keys and wrong types --------------------------------------------------------

@pytest.mark.parametrize(("text", "key", "suggestion"), [
    ("compose_file = ['a.yml']\n", "compose_file", "compose_files"),
    ("project_prefx = 'zf'\n", "project_prefx", "project_prefix"),
    ("[port]\nrange_start = 21000\n", "port", "ports"),
    ("[ports]\nrange_strat = 21000\n", "ports.range_strat", "range_start"),
    ("[database]\npasword_env = 'PW'\n", "database.pasword_env", "password_env"),
    ("[workers]\nservice = ['backend']\n", "workers.service", "services"),
    ("[media]\nvolumes = 'media'\n", "media.volumes", "volume"),
], ids=["top-compose_file", "top-prefix", "section-port", "ports-range_strat",
        "database-pasword_env", "workers-service", "media-volumes"])
def test_an_unknown_key_names_the_key_the_file_and_a_suggestion(
        tmp_path: Path, text: str, key: str, suggestion: str) -> None:
    path = write(tmp_path / CONFIG_FILE_NAME, text)

    with pytest.raises(ConfigError) as info:
        load(tmp_path)

    message = str(info.value)
    assert f"unknown key '{key}'" in message
    assert str(path.resolve()) in message
    assert f"did you mean '{suggestion}'" in message


def test_an_unknown_key_in_pyproject_names_pyproject(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", "[tool.compose-gen.ports]\nrnage_start = 1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'ports\.rnage_start'.*range_start") as info:
        load(tmp_path)
    assert str(path.resolve()) in str(info.value)


def test_an_unknown_key_through_the_cli_exits_2_with_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    write(tmp_path / CONFIG_FILE_NAME, "[ports]\nrange_strat = 21000\n")
    monkeypatch.chdir(tmp_path)

    code = main(["render", "--task-id", "t1"])

    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert "ports.range_strat" in err and CONFIG_FILE_NAME in err


WRONG_VALUES = [
    ("[ports]\nrange_start = '20000'\n", r"'ports\.range_start' must be an integer, got a string"),
    ("[ports]\nslots = true\n", r"'ports\.slots' must be an integer, got a boolean"),
    ("[ports]\nblock_size = 2.5\n", r"'ports\.block_size' must be an integer, got a number"),
    ("ports = 5\n", r"'ports' must be a table, got an integer"),
    ("compose_files = 5\n", r"'compose_files' must be a list of non-empty strings"),
    ("compose_files = []\n", r"'compose_files' must name at least one file"),
    ("compose_files = ['a.yml', 3]\n", r"'compose_files' must be a list of non-empty strings"),
    ("project_prefix = 'ZF'\n", r"'project_prefix' must match"),
    ("project_prefix = 'a-very-long-prefix-over-20'\n", r"at most 20"),
    ("tasks_dir = '  '\n", r"'tasks_dir' must be a non-empty path"),
    ("[database]\nfast = 'yes'\n", r"'database\.fast' must be true or false"),
    ("[database]\nready_timeout = 'soon'\n", r"'database\.ready_timeout' must be a number"),
    ("[database]\nseed_command = 'python seed.py'\n", r"must be a list of arguments"),
    ("[database]\nuser = 'app; drop'\n", r"'database\.user' must be a plain identifier"),
    ("[database]\npassword_env = 'MY-PW'\n", r"'database\.password_env' must be an env var"),
    ("[database]\nport = 70000\n", r"'database\.port' must be a port number"),
    ("[database]\ntmpfs_size = 'lots'\n", r"'database\.tmpfs_size' must look like"),
    ("[database]\nseed_command = ['a']\nseed_sql = 'x.sql'\nseed_service = 'db2'\n",
     r"either 'database\.seed_command' or 'database\.seed_sql'"),
    ("[ports]\nnames = { db = 5 }\n", r"'ports\.names' must be a table of strings"),
    ("[ports]\nnames = { db = 'PG PORT' }\n", r"'ports\.names\.db' must be an env var name"),
    ("[ports]\nrange_start = 80\n", r"at least 1024"),
    ("[ports]\nrange_start = 60000\nslots = 600\n", r"goes past 65535"),
    ("[ports]\nworker_offset = 20\n", r"'ports\.worker_offset' must be within the block"),
    ("[workers]\ndefault = 9\nmax = 8\n", r"workers\.default <= workers\.max"),
    ("[workers]\nservices = ['db']\n", r"cannot also be a worker service"),
    ("[workers]\nservices = ['b']\nhttp_service = 'c'\n", r"'workers\.http_service' must be"),
    ("[media]\nvolume = 'a/b'\n", r"'media\.volume' is not a valid volume name"),
]


@pytest.mark.parametrize(("text", "pattern"), WRONG_VALUES,
                         ids=[text.strip().replace("\n", " | ") for text, _ in WRONG_VALUES])
def test_wrong_values_are_refused_with_the_key_in_the_message(
        tmp_path: Path, text: str, pattern: str) -> None:
    write(tmp_path / CONFIG_FILE_NAME, text)
    with pytest.raises(ConfigError, match=pattern) as info:
        load(tmp_path)
    assert CONFIG_FILE_NAME in str(info.value)


@pytest.mark.parametrize(("section", "key", "value"), [
    (None, "project_prefix", "zf\n"),
    ("database", "password_env", "PW\n"),
    ("database", "url_env", "URL\n"),
    ("database", "user", "app\n"),
    ("database", "name_prefix", "test_e2e\n"),
    ("database", "tmpfs_size", "1g\n"),
    ("database", "service", "db\n"),
    ("media", "volume", "media\n"),
], ids=["project_prefix", "password_env", "url_env", "user", "name_prefix", "tmpfs_size",
        "service", "media.volume"])
def test_a_trailing_newline_does_not_slip_past_the_name_checks(
        section: str | None, key: str, value: str) -> None:
    # Python's `$` also matches before a final "\n": "PW\n" must not pass as an env var name
    # (it would end up as a key of .env.task and split its line).
    data: dict = {key: value} if section is None else {section: {key: value}}
    with pytest.raises(ConfigError, match=key):
        parse_config(data, project_dir=Path("/project"), source=None)


def test_a_trailing_newline_in_a_port_env_name_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"ports\.names\.db"):
        parse_config({"ports": {"names": {"db": "POSTGRES_PORT\n"}}},
                     project_dir=Path("/project"), source=None)


# --- environment overrides ---------------------------------------------------------------

def test_env_overrides_win_over_the_file(tmp_path: Path) -> None:
    write(tmp_path / CONFIG_FILE_NAME,
          "project_prefix = 'file'\n[ports]\nrange_start = 21000\n[database]\nfast = true\n")

    config = load(tmp_path,
                  COMPOSE_GEN_PORTS_RANGE_START="22000",
                  COMPOSE_GEN_PORTS_SLOTS="100",
                  COMPOSE_GEN_PROJECT_PREFIX="ci",
                  COMPOSE_GEN_DATABASE_FAST="off",
                  COMPOSE_GEN_DATABASE_READY_TIMEOUT="2.5",
                  COMPOSE_GEN_WORKERS_SERVICES="backend, worker",
                  COMPOSE_GEN_COMPOSE_FILES="a.yml,b.yml",
                  COMPOSE_GEN_PORTS_NAMES="db=PG_PORT,redis=KV_PORT",
                  COMPOSE_GEN_MEDIA_VOLUME="uploads")

    assert config.ports.range_start == 22000
    assert config.ports.slots == 100
    assert config.project_prefix == "ci"
    assert config.database.fast is False
    assert config.database.ready_timeout == 2.5
    assert config.workers.services == ("backend", "worker")
    assert config.compose_files == ("a.yml", "b.yml")
    assert dict(config.ports.names) == {"db": "PG_PORT", "redis": "KV_PORT"}
    assert config.media.volume == "uploads"


def test_env_overrides_reach_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / CONFIG_FILE_NAME, "[ports]\nrange_start = 21000\n")
    monkeypatch.setenv("COMPOSE_GEN_PORTS_RANGE_START", "23000")
    assert load_config(tmp_path).ports.range_start == 23000


def test_an_env_override_does_not_hide_a_section_that_is_not_a_table(tmp_path: Path) -> None:
    write(tmp_path / CONFIG_FILE_NAME, "ports = 5\n")
    with pytest.raises(ConfigError, match=r"compose-gen\.toml: 'ports' must be a table"):
        load(tmp_path, COMPOSE_GEN_PORTS_SLOTS="3")


@pytest.mark.parametrize(("env", "value", "pattern"), [
    ("COMPOSE_GEN_PORTS_RANGE_START", "lots", r"\$COMPOSE_GEN_PORTS_RANGE_START must be an int"),
    ("COMPOSE_GEN_DATABASE_FAST", "maybe", r"\$COMPOSE_GEN_DATABASE_FAST must be true or false"),
    ("COMPOSE_GEN_DATABASE_READY_TIMEOUT", "x", r"must be a number"),
    ("COMPOSE_GEN_PORTS_NAMES", "db", r"must look like service=ENV_NAME"),
    ("COMPOSE_GEN_PORTS_RANGE_START", "100", r"at least 1024"),
], ids=["int", "bool", "float", "mapping", "validated-after-override"])
def test_bad_env_overrides_name_the_variable(tmp_path: Path, env: str, value: str,
                                             pattern: str) -> None:
    write(tmp_path / CONFIG_FILE_NAME, "")
    with pytest.raises(ConfigError, match=pattern):
        load(tmp_path, **{env: value})
