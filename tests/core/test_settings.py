from __future__ import annotations

import sys
from pathlib import Path

import pytest
from batchery.settings import Settings, SettingsError, default_store_url, load_settings


@pytest.fixture(autouse=True)
def _empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray ./batchery.toml from the checkout may take part."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def _toml(tmp_path: Path, text: str, name: str = "batchery.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_nothing_is_given() -> None:
    loaded = load_settings(environ={})
    assert loaded.settings == Settings()
    assert loaded.config_file is None
    assert set(loaded.sources.values()) == {"default"}
    assert loaded.settings.batch_threshold == 20
    assert loaded.settings.log_format == "auto"


def test_each_layer_overrides_the_one_below_and_says_so(tmp_path: Path) -> None:
    path = _toml(
        tmp_path,
        """
        batch_threshold = 30
        poll_interval_s = 3.0
        max_attempts = 4
        default_model = "gpt-file"

        [providers.openai]
        base_url = "http://file.invalid/v1"
        organization = "org-file"
        """,
    )
    environ = {
        "BATCHERY_POLL_INTERVAL_S": "4.5",
        "BATCHERY_MAX_ATTEMPTS": "6",
        "BATCHERY_PROVIDERS__OPENAI__BASE_URL": "http://env.invalid/v1",
    }
    loaded = load_settings(config_file=path, environ=environ, explicit={"max_attempts": 9})

    settings, sources = loaded.settings, loaded.sources
    assert (settings.realtime_concurrency, sources["realtime_concurrency"]) == (16, "default")
    assert (settings.batch_threshold, sources["batch_threshold"]) == (30, f"file:{path}")
    assert (settings.default_model, sources["default_model"]) == ("gpt-file", f"file:{path}")
    assert (settings.poll_interval_s, sources["poll_interval_s"]) == (
        4.5,
        "env:BATCHERY_POLL_INTERVAL_S",
    )
    assert (settings.max_attempts, sources["max_attempts"]) == (9, "argument")
    assert settings.providers == {
        "openai": {"base_url": "http://env.invalid/v1", "organization": "org-file"}
    }
    assert sources["providers.openai.base_url"] == "env:BATCHERY_PROVIDERS__OPENAI__BASE_URL"
    assert sources["providers.openai.organization"] == f"file:{path}"
    assert loaded.config_file == str(path)

    rows = {key: (value, source) for key, value, source in loaded.entries()}
    assert rows["max_attempts"] == (9, "argument")
    assert rows["providers.openai.organization"] == ("org-file", f"file:{path}")
    assert "providers" not in rows


def test_explicit_none_means_not_given() -> None:
    loaded = load_settings(
        environ={"BATCHERY_STORE": "/data/jobs.db"}, explicit={"store": None, "max_attempts": None}
    )
    assert loaded.settings.store == "/data/jobs.db"
    assert loaded.sources["store"] == "env:BATCHERY_STORE"
    assert loaded.sources["max_attempts"] == "default"


def test_env_strings_are_converted_to_the_field_type() -> None:
    loaded = load_settings(
        environ={
            "BATCHERY_BATCH_THRESHOLD": "50",
            "BATCHERY_REQUEST_TIMEOUT_S": "12.5",
            "BATCHERY_POLL_MAX_INTERVAL_S": "90",
            "BATCHERY_MAX_REQUESTS_PER_BATCH": "1000",
            "BATCHERY_LOG_LEVEL": "DEBUG",
            "BATCHERY_STORE": "sqlite:///tmp/x.db",
            "BATCHERY_DEFAULT_MODEL": "",
            "UNRELATED": "1",
        }
    )
    settings = loaded.settings
    assert settings.batch_threshold == 50
    assert type(settings.batch_threshold) is int
    assert settings.request_timeout_s == 12.5
    assert settings.poll_max_interval_s == 90.0
    assert type(settings.poll_max_interval_s) is float
    assert settings.max_requests_per_batch == 1000
    assert settings.log_level == "debug"
    assert settings.store == "sqlite:///tmp/x.db"
    assert settings.default_model is None
    assert loaded.sources["default_model"] == "default"


def test_config_file_is_found_by_flag_then_env_then_cwd(tmp_path: Path) -> None:
    local = _toml(Path.cwd(), "batch_threshold = 1\n")
    by_env = _toml(tmp_path, "batch_threshold = 2\n", "env.toml")
    by_flag = _toml(tmp_path, "batch_threshold = 3\n", "flag.toml")

    assert load_settings(environ={}).sources["batch_threshold"] == f"file:{local}"
    environ = {"BATCHERY_CONFIG": str(by_env)}
    assert load_settings(environ=environ).settings.batch_threshold == 2
    flagged = load_settings(config_file=by_flag, environ=environ)
    assert flagged.settings.batch_threshold == 3
    assert flagged.sources["batch_threshold"] == f"file:{by_flag}"


def test_default_store_is_a_sqlite_file_in_the_user_data_dir() -> None:
    url = default_store_url()
    assert url.startswith("sqlite:///")
    path = Path(url.removeprefix("sqlite:///"))
    assert path.is_absolute()
    assert path.parts[-2:] == ("batchery", "batchery.db")
    assert Settings().store_url() == url
    assert Settings(store="/srv/jobs.db").store_url() == "/srv/jobs.db"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG applies on Linux")
def test_default_store_follows_xdg_data_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_store_url() == f"sqlite:///{tmp_path / 'data' / 'batchery' / 'batchery.db'}"


@pytest.mark.parametrize(
    ("environ", "key", "source", "rule"),
    [
        (
            {"BATCHERY_BATCH_TRESHOLD": "5"},
            "batch_treshold",
            "env:BATCHERY_BATCH_TRESHOLD",
            "did you mean 'batch_threshold'",
        ),
        (
            {"BATCHERY_BATCH_THRESHOLD": "-1"},
            "batch_threshold",
            "env:BATCHERY_BATCH_THRESHOLD",
            "integer >= 0",
        ),
        (
            {"BATCHERY_BATCH_THRESHOLD": "many"},
            "batch_threshold",
            "env:BATCHERY_BATCH_THRESHOLD",
            "integer >= 0",
        ),
        (
            {"BATCHERY_POLL_INTERVAL_S": "-2"},
            "poll_interval_s",
            "env:BATCHERY_POLL_INTERVAL_S",
            "seconds > 0",
        ),
        (
            {"BATCHERY_LOG_FORMAT": "xml"},
            "log_format",
            "env:BATCHERY_LOG_FORMAT",
            "one of auto, console, json",
        ),
        (
            {"BATCHERY_POLL_MAX_INTERVAL_S": "1"},
            "poll_max_interval_s",
            "env:BATCHERY_POLL_MAX_INTERVAL_S",
            ">= poll_interval_s",
        ),
        (
            {"BATCHERY_LEASE_S": "4", "BATCHERY_HEARTBEAT_S": "3"},
            "heartbeat_s",
            "env:BATCHERY_HEARTBEAT_S",
            "at most half of lease_s (4, from env:BATCHERY_LEASE_S)",
        ),
        (
            {"BATCHERY_STORE_BUSY_TIMEOUT_S": "0"},
            "store_busy_timeout_s",
            "env:BATCHERY_STORE_BUSY_TIMEOUT_S",
            "seconds > 0",
        ),
        (
            {"BATCHERY_PROVIDERS__OPENAI": "x"},
            "providers.openai",
            "env:BATCHERY_PROVIDERS__OPENAI",
            "BATCHERY_PROVIDERS__<PROVIDER>__<OPTION>",
        ),
        (
            {"BATCHERY_PROVIDERS__OPENAI__API_KEY": "x"},
            "providers.openai.api_key",
            "env:BATCHERY_PROVIDERS__OPENAI__API_KEY",
            "keys never live in settings",
        ),
    ],
)
def test_bad_env_names_key_source_and_rule(
    environ: dict[str, str], key: str, source: str, rule: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=environ)
    error = caught.value
    assert (error.key, error.source) == (key, source)
    assert rule in error.rule
    assert str(error).startswith(f"{key} from {source}: ")


@pytest.mark.parametrize(
    ("text", "key", "rule"),
    [
        ("max_atempts = 2\n", "max_atempts", "did you mean 'max_attempts'"),
        ('batch_threshold = "30"\n', "batch_threshold", "Expected `int`, got `str`"),
        ("realtime_concurrency = 0\n", "realtime_concurrency", "integer >= 1"),
        ("reconcile_grace_s = -0.5\n", "reconcile_grace_s", "seconds >= 0"),
        ("poll_backoff = 0.5\n", "poll_backoff", "number >= 1"),
        ('log_level = "loud"\n', "log_level", "one of debug, info"),
        ("[batchery]\nbatch_threshold = 3\n", "batchery", "top-level keys"),
        ("[providers.openai]\nmax_retries = 3\n", "providers.openai.max_retries", "string"),
        ("[providers]\nopenai = 3\n", "providers.openai", "table"),
    ],
)
def test_bad_file_values_name_key_file_and_rule(
    tmp_path: Path, text: str, key: str, rule: str
) -> None:
    path = _toml(tmp_path, text)
    with pytest.raises(SettingsError) as caught:
        load_settings(config_file=path, environ={})
    assert caught.value.key == key
    assert caught.value.source == f"file:{path}"
    assert rule in caught.value.rule


def test_unknown_explicit_argument_is_rejected() -> None:
    with pytest.raises(SettingsError, match=r"^threshold from argument: unknown setting"):
        load_settings(environ={}, explicit={"threshold": 3})


def test_unreadable_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'store = "a"\nbatch_threshold = \n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config_file=path, environ={})
    assert str(caught.value).startswith(f"file:{path}: invalid TOML")
    assert "line 2" in str(caught.value)


def test_a_named_config_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(SettingsError, match=r"^--config: config file .*missing\.toml"):
        load_settings(config_file=missing, environ={})
    with pytest.raises(SettingsError, match=r"^env:BATCHERY_CONFIG: config file"):
        load_settings(environ={"BATCHERY_CONFIG": str(missing)})


def test_process_variables_with_the_prefix_are_not_settings() -> None:
    from batchery.settings import load_settings

    loaded = load_settings(
        environ={
            "BATCHERY_TOKEN": "t",
            "BATCHERY_CRASHPOINT": "after_link",
            "BATCHERY_PLUGINS": "openai",
        }
    )

    assert loaded.settings.batch_threshold == 20
