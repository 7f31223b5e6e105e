"""The headless command line, driven as a user drives it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_templates_and_datasets_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    from engines.data import list_datasets
    from engines.templates import TEMPLATES

    code, out, _ = run(capsys, "templates")
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(TEMPLATES)
    code, out, _ = run(capsys, "datasets")
    assert code == 0
    assert [line.split()[0] for line in out.strip().splitlines()] == [d.id for d in list_datasets()]
    code, out, _ = run(capsys, "datasets", "--json")
    ids = [d["id"] for d in json.loads(out)["datasets"]]
    for expected in (
        "digits",
        "breast_cancer",
        "wine",
        "iris",
        "german_credit",
        "sequences",
        "lending",
    ):
        assert expected in ids


def test_full_headless_job_on_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "digits.wbproj"
    code, _, err = run(
        capsys, "new", "--template", "lenet5", "--dataset", "digits", "-o", str(proj)
    )
    assert code == 0, err
    code, out, err = run(capsys, "train", str(proj), "--epochs", "3", "--seed", "7", "--json")
    assert code == 0, err
    trained = json.loads(out)
    assert trained["status"] == "completed"
    assert trained["epochs"] == 3

    code, out, err = run(capsys, "eval", str(proj), "--json")
    assert code == 0, err
    ev = json.loads(out)
    assert ev["split"] == "test" and ev["n"] > 200
    # 3 epochs of LeNet on digits is far above the 10 % of chance
    assert ev["metrics"]["accuracy"] > 0.5
    confusion = np.array(ev["metrics"]["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == ev["n"]

    preds = tmp_path / "preds.csv"
    code, _, err = run(capsys, "predict", str(proj), "--split", "test", "-o", str(preds))
    assert code == 0, err
    frame = pd.read_csv(preds)
    assert list(frame.columns[:3]) == ["row_id", "true_label", "predicted_label"]
    assert len(frame) == ev["n"]
    prob = frame[[c for c in frame.columns if c.startswith("prob_")]].to_numpy()
    assert prob.shape[1] == 10 and np.allclose(prob.sum(axis=1), 1.0, atol=1e-5)
    # the row id is the row's position in the source dataset: its true label must match it
    from sklearn.datasets import load_digits

    target = load_digits().target
    assert (frame["true_label"].astype(int).to_numpy() == target[frame["row_id"].to_numpy()]).all()
    accuracy = (frame["true_label"] == frame["predicted_label"]).mean()
    assert accuracy == pytest.approx(ev["metrics"]["accuracy"], abs=1e-9)

    code, out, err = run(capsys, "info", str(proj), "--json")
    assert code == 0, err
    info = json.loads(out)
    assert info["graph"]["parameters"] > 0 and len(info["runs"]) == 1
    assert info["runs"][0]["epochs"] == 3
    assert len(info["data"]["fingerprint"]) == 64
    code, out, _ = run(capsys, "info", str(proj))
    assert "parameters" in out and "run" in out


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "python"])
def test_export_writes_model_and_input_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    proj = tmp_path / "credit.wbproj"
    assert (
        run(capsys, "new", "--template", "mlp", "--dataset", "german_credit", "-o", str(proj))[0]
        == 0
    )
    assert run(capsys, "train", str(proj), "--epochs", "1", "--quiet")[0] == 0
    out = tmp_path / {"onnx": "m.onnx", "torchscript": "m.pt", "python": "m.py"}[fmt]
    code, _, err = run(capsys, "export", str(proj), "--format", fmt, "-o", str(out))
    assert code == 0, err
    assert out.exists() and out.stat().st_size > 0
    spec = json.loads(out.with_name("m.input.json").read_text())
    assert spec["input_shape"][0] == "batch"
    assert spec["class_names"] == ["0", "1"]
    assert spec["preprocessing"]  # raw columns -> model input
    if fmt == "python":
        # the readable source rebuilds the same model and loads the same weights
        import importlib.util

        import torch

        from workbench.core.project import load_project
        from workbench.core.session import load_data, model_for

        module_spec = importlib.util.spec_from_file_location("exported_m", out)
        assert module_spec and module_spec.loader
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        exported = module.load()
        project = load_project(proj)
        data = load_data(project)
        x = torch.as_tensor(data.X[:16])
        with torch.no_grad():
            assert torch.equal(exported(x), model_for(project, project.active())(x))


def test_recurrent_autoencoder_and_credit_pairs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for template, dataset in (
        ("gru", "sequences"),
        ("autoencoder", "digits"),
        ("mlp", "german_credit"),
    ):
        proj = tmp_path / f"{template}-{dataset}.wbproj"
        code, _, err = run(
            capsys, "new", "--template", template, "--dataset", dataset, "-o", str(proj)
        )
        assert code == 0, (template, dataset, err)
        code, out, err = run(capsys, "train", str(proj), "--epochs", "2", "--json")
        assert code == 0, (template, dataset, err)
        assert json.loads(out)["status"] == "completed"
        code, out, err = run(capsys, "eval", str(proj), "--json")
        assert code == 0, err
        assert np.isfinite(json.loads(out)["metrics"]["loss"])


def test_csv_import_with_sensitive_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "colour": rng.choice(["red", "green"], size=n),
            "group": rng.choice(["x", "y"], size=n),
        }
    )
    frame["label"] = np.where(frame["a"] + (frame["colour"] == "red") > 0.5, "yes", "no")
    csv = tmp_path / "table.csv"
    frame.to_csv(csv, index=False)
    proj = tmp_path / "mine.wbproj"
    code, _, err = run(
        capsys,
        "new",
        "--template",
        "mlp",
        "--data",
        str(csv),
        "--target",
        "label",
        "--sensitive",
        "group",
        "-o",
        str(proj),
    )
    assert code == 0, err
    # the source is embedded: the project works with the CSV gone
    csv.unlink()
    assert run(capsys, "train", str(proj), "--epochs", "2", "--quiet")[0] == 0
    code, out, err = run(capsys, "predict", str(proj), "--json")
    assert code == 0, err
    assert set(json.loads(out)["columns"]) >= {
        "row_id",
        "true_label",
        "predicted_label",
        "prob_no",
        "prob_yes",
    }


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (
            ["new", "--template", "nope", "--dataset", "digits", "-o", "{tmp}/x.wbproj"],
            "Unknown template",
        ),
        (["new", "--template", "mlp", "--dataset", "nope", "-o", "{tmp}/x.wbproj"], "nope"),
        (["new", "--template", "lstm", "--dataset", "iris", "-o", "{tmp}/x.wbproj"], "sequence"),
        (
            ["new", "--template", "mlp", "--data", "{tmp}/missing.csv", "-o", "{tmp}/x.wbproj"],
            "missing.csv",
        ),
        (
            ["new", "--template", "mlp", "--dataset", "iris", "-o", "{tmp}/no/such/dir/x.wbproj"],
            "does not exist",
        ),
        (["train", "{tmp}/absent.wbproj"], "No such project file"),
        (["train", "{tmp}/garbage.wbproj"], ""),
        (["train", "{tmp}/garbage.wbproj", "--epochs", "0"], "at least 1"),
        (["train", "{tmp}/garbage.wbproj", "--lr", "abc"], "number"),
        (["eval", "{tmp}/garbage.wbproj", "--split", "nope"], "invalid choice"),
        (["export", "{tmp}/garbage.wbproj", "--format", "pdf", "-o", "x"], "invalid choice"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    (tmp_path / "garbage.wbproj").write_bytes(b"this is not a zip file")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0]
    assert not (tmp_path / "x.wbproj").exists()


def test_eval_before_training_and_unknown_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proj = tmp_path / "p.wbproj"
    assert run(capsys, "new", "--template", "mlp", "--dataset", "iris", "-o", str(proj))[0] == 0
    code, _, err = run(capsys, "eval", str(proj))
    assert code == 2 and "no trained run" in err
    assert run(capsys, "train", str(proj), "--epochs", "1", "--quiet")[0] == 0
    code, _, err = run(capsys, "predict", str(proj), "--run", "zzz")
    assert code == 2 and "no run 'zzz'" in err
    # refusing to overwrite keeps the file
    before = proj.read_bytes()
    code, _, err = run(capsys, "new", "--template", "mlp", "--dataset", "iris", "-o", str(proj))
    assert code == 2 and "--force" in err
    assert proj.read_bytes() == before
    assert zipfile.is_zipfile(proj)


def test_console_script_runs_headless(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("workbench")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    res = subprocess.run(
        [str(exe), "templates"], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "lenet5" in res.stdout
    res = subprocess.run(
        [str(exe), "info", str(tmp_path / "none.wbproj")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 2 and res.stderr.startswith("error: ")
    # the headless command line never imports Qt
    code = "import sys; from workbench.cli import main; main(['templates']); print('PySide6' in sys.modules)"
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.stdout.strip().splitlines()[-1] == "False"


# --------------------------------------------------------------------- generated bad input
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TOKENS = st.one_of(
    st.sampled_from([
        "--json", "--split", "test", "val", "all", "nope", "--run", "run 1", "--format", "onnx",
        "python", "torchscript", "-o", "--template", "mlp", "lenet5", "vit", "--dataset", "iris",
        "digits", "sequences", "--data", "--target", "--sensitive", "--force", "--seed", "-1",
        "1e9", "", "--", "-", "{proj}", "{tmp}/out.x", "{tmp}/no/dir/out.x", "{tmp}",
        "--method", "ig", "shapley", "gradcam", "--samples", "0-3", "3-1", "x", "--pick",
        "misclassified", "-n", "2", "--layer", "fc1", "--background", "5", "--target", "7",
        "--threshold", "0.3", "1.5", "--n-boot", "20", "--favourable", "setosa", "--no-group",
    ]),
    st.text(max_size=12),
)


@pytest.fixture(scope="module")
def trained_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "p.wbproj"
    assert main(["new", "--template", "mlp", "--dataset", "iris", "-o", str(path)]) == 0
    assert main(["train", str(path), "--epochs", "1", "--quiet"]) == 0
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(
        ["templates", "datasets", "info", "eval", "predict", "export", "new", "explain", "fairness"]
    ),
    tokens=st.lists(_TOKENS, max_size=6),
)
def test_generated_command_lines_never_crash(
    trained_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str,
    tokens: list[str],
) -> None:
    """Any command line gives success, or exit 2 with one 'error:' line; the project survives."""
    before = trained_project.read_bytes()
    argv = [command] + [t.replace("{proj}", str(trained_project)).replace("{tmp}", str(tmp_path))
                        for t in tokens]
    code = main(argv)
    _, err = capsys.readouterr()
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
    assert trained_project.read_bytes() == before


def test_a_closed_pipe_ends_the_command_quietly(monkeypatch, capsys) -> None:
    import io

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:  # the reader went away (`| head -1`)
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["templates"]) == 141
    assert capsys.readouterr().err == ""  # no "error: Broken pipe", no traceback
