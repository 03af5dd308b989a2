"""Configuration layering and validation (no network: errors are found before anything is fetched)."""

from __future__ import annotations

import pytest

from supplywatch import config
from supplywatch.store import ConfigError


def write(tmp_path, text):
    path = tmp_path / "supplywatch.toml"
    path.write_text(text, "utf-8")
    return path


def test_defaults_then_file_then_env(tmp_path):
    path = write(tmp_path, '[crawl]\nmax_entries_per_source = 7\ntimeout = 5\n[[sources]]\nname = "a"\nurl = "https://a.example/feed"\n')
    cfg = config.load(path, env={"SUPPLYWATCH_CRAWL_TIMEOUT": "2.5"})
    assert cfg.crawl["max_entries_per_source"] == 7
    assert cfg.crawl["timeout"] == 2.5  # env over file
    assert cfg.crawl["max_bytes"] == 16 * 1024 * 1024  # packaged default
    assert cfg.sources[0]["kind"] == "feed"


def test_config_and_db_from_environment(tmp_path, monkeypatch):
    path = write(tmp_path, "")
    cfg = config.load(None, env={"SUPPLYWATCH_CONFIG": str(path)})
    assert cfg.path == path
    assert config.db_path(None, env={"SUPPLYWATCH_DB": "/x/y.db"}) == "/x/y.db"
    assert config.db_path("opt.db", env={"SUPPLYWATCH_DB": "/x/y.db"}) == "opt.db"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "supplywatch.toml").unlink()
    assert config.load(None, env={}).sources == []  # no file: defaults alone


@pytest.mark.parametrize("text,needle", [
    ("[crawl\n", "invalid TOML"),
    ('[[sources]]\nname = "a"\nkind = "rss"\nurl = "https://a/"', "unknown kind 'rss'"),
    ('[[sources]]\nname = "a"\nurl = "https://a/"\n[[sources]]\nname = "a"\nurl = "https://b/"', "duplicate source name 'a'"),
    ('[[sources]]\nname = "a"\nkind = "advisories"\nurl = "https://a/"\nfollow = ["(unclosed"]', "bad regex"),
    ('[[sources]]\nname = "a"\nkind = "advisories"\nurl = "https://a/"\nfollow = ["x"]\nnext = "a[["', "bad CSS selector"),
    ('[[sources]]\nname = "a"\n', "missing url"),
    ('[[sources]]\nname = "a"\nurl = "file:///etc/passwd"', "must be http"),
    ('[[sources]]\nname = "a"\nurl = "https://a/"\ncolour = "red"', "unknown key"),
    ('[crawl]\nmax_bytes = "big"', "max_bytes must be an integer"),
    ('[crawl]\nwhatever = 1', "unknown key 'whatever'"),
    ('[nonsense]\n', "unknown section"),
    ('[classifier]\nbackend = "gpu"', "backend must be fp32, auto, torch, onnx or onnx-int8, not 'gpu'"),
])
def test_bad_configuration_names_file_source_and_problem(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        config.load(path, env={})
    assert needle in str(err.value)
    assert str(path) in str(err.value)
    if "source" in text and "name" in text and "[crawl" not in text:
        assert "'a'" in str(err.value)


@pytest.mark.parametrize("backend", ["fp32", "auto", "torch", "onnx", "onnx-int8"])
def test_every_encoder_backend_is_a_valid_setting_and_fp32_is_the_default(tmp_path, backend):
    assert config.load(write(tmp_path, ""), env={}).classifier["backend"] == "fp32"
    assert config.load(write(tmp_path, f'[classifier]\nbackend = "{backend}"\n'), env={}).classifier["backend"] == backend


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        config.load(tmp_path / "absent.toml", env={})


def test_starter_config_is_valid_and_real(tmp_path):
    from importlib import resources

    text = resources.files("supplywatch").joinpath("starter.toml").read_text("utf-8")
    cfg = config.load(write(tmp_path, text), env={})
    assert {s["kind"] for s in cfg.sources} == {"feed", "advisories", "csaf"}
    assert len(cfg.sources) >= 8
    assert all(s["url"].startswith("https://") for s in cfg.sources)
