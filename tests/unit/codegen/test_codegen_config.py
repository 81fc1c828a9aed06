"""[tool.qgen] discovery and validation."""

from __future__ import annotations

from pathlib import Path

from qgen.config import Overrides, load_config


def _project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.qgen]\n{table}\n')
    (tmp_path / "shop" / "sub").mkdir(parents=True)
    return tmp_path


def test_found_from_a_subfolder(tmp_path: Path) -> None:
    root = _project(tmp_path, 'source = ["shop"]\nout = "shop/generated"\nservices = "shop.s:make"')
    config, diags = load_config(root / "shop" / "sub")
    assert diags == [] and config is not None
    assert config.root == root.resolve()
    assert config.sources == ("shop",)
    assert config.out_package == "shop.generated"
    assert config.out_dir == root.resolve() / "shop" / "generated"
    assert config.services == "shop.s:make"


def test_single_string_source_and_overrides(tmp_path: Path) -> None:
    root = _project(tmp_path, 'source = "shop"\nout = "shop/generated"')
    config, diags = load_config(
        Path("/"), Overrides(project=root, out="shop/gen2", services="shop.x:y")
    )
    assert diags == [] and config is not None
    assert config.sources == ("shop",) and config.out == "shop/gen2"
    assert config.services == "shop.x:y"


def test_every_problem_is_reported(tmp_path: Path) -> None:
    root = _project(tmp_path, 'source = [1, "nope"]\nout = "../escape"\nservices = 3\nextra = 1')
    config, diags = load_config(root)
    assert config is None
    assert [d.code for d in diags] == ["QG003"] * 5
    text = "\n".join(d.format() for d in diags)
    for needle in ("unknown key 'extra'", "source entry 1", "'nope' not found", "out '../escape'"):
        assert needle in text
    assert "services 3" in text


def test_bad_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.qgen\n")
    config, diags = load_config(tmp_path)
    assert config is None and "cannot read" in diags[0].message


def test_project_must_be_a_directory(tmp_path: Path) -> None:
    config, diags = load_config(tmp_path, Overrides(project=tmp_path / "missing"))
    assert config is None and "is not a directory" in diags[0].message
