"""The shipped role model: loads, predicts sensibly, refuses modified files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from sdfgen.errors import SdfgenError
from sdfgen.facts import ElfInfo, FileKind, PackageFile
from sdfgen.roles.labels import Role
from sdfgen.roles.model import (
    DEFAULT_MODEL_DIR,
    META_FILE,
    MODEL_FILE,
    ModelError,
    classify,
    load_model,
)


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return load_model()


@pytest.mark.parametrize(
    ("path", "package", "role"),
    [
        ("/usr/share/man/man1/ls.1.gz", "coreutils", Role.LEFT_OUT),
        ("/usr/lib/x86_64-linux-gnu/libssl.so.3", "libssl3", Role.LIBS),
        ("/usr/lib64/libssl.so.3", "openssl-libs", Role.LIBS),
        ("/usr/share/doc/zlib/copyright", "zlib", Role.COPYRIGHT),
        ("/usr/include/zlib.h", "zlib-devel", Role.DEV),
        ("/usr/share/zoneinfo/Europe/Paris", "tzdata", Role.DATA),
        ("/usr/lib/erlang/lib/stdlib-4.2/ebin/lists.beam", "erlang-stdlib", Role.MODULES),
    ],
)
def test_shipped_model_predicts(model, path: str, package: str, role: Role) -> None:  # type: ignore[no-untyped-def]
    ranked = model.predict(path, package)
    assert ranked[0][0] is role
    assert len(ranked) == len(model.classes)
    assert abs(sum(p for _, p in ranked) - 1.0) < 1e-9
    assert [p for _, p in ranked] == sorted((p for _, p in ranked), reverse=True)


def test_predict_accepts_facts(model) -> None:  # type: ignore[no-untyped-def]
    entry = PackageFile("/usr/lib64/libfoo.so.1", FileKind.FILE, 0o755,
                        elf=ElfInfo(elf_type="ET_DYN", soname="libfoo.so.1"))
    assert model.predict(entry.path, "foo", entry)[0][0] is Role.LIBS


def test_classify_rules_then_model(model) -> None:  # type: ignore[no-untyped-def]
    ruled = classify("/usr/share/man/man1/ls.1.gz", "coreutils", model=model)
    assert (ruled.role, ruled.source, ruled.probabilities) == (Role.LEFT_OUT, "rules", ())
    learned = classify("/usr/lib/rabbitmq/lib/x-1.0/ebin/a.beam", "rabbitmq-server", model=model)
    assert learned.source == "model" and learned.role is Role.MODULES
    assert re.match(r"model: modules (0\.9[5-9]|1\.00) vs ", learned.reason), learned.reason
    assert learned.probabilities[0][0] is Role.MODULES


def _copy_model(tmp_path: Path) -> Path:
    target = tmp_path / "models"
    target.mkdir()
    for name in (MODEL_FILE, META_FILE):
        shutil.copy(DEFAULT_MODEL_DIR / name, target / name)
    return target


def test_tampered_model_is_refused(tmp_path: Path) -> None:
    target = _copy_model(tmp_path)
    data = bytearray((target / MODEL_FILE).read_bytes())
    index = data.index(b"0.", 100)
    data[index] = ord("1")  # one byte changed: a weight 0.x becomes 1.x
    (target / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelError) as info:
        load_model(target)
    message = str(info.value)
    assert isinstance(info.value, SdfgenError) and "\n" not in message
    assert message == (
        f"{target / MODEL_FILE}: SHA-256 does not match {META_FILE} "
        "(file corrupt or modified; retrain with `sdfgen train`)"
    )


def test_missing_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"role-model\.meta\.json: role model file not found"):
        load_model(tmp_path)


def test_wrong_schema_is_refused(tmp_path: Path) -> None:
    target = _copy_model(tmp_path)
    meta = json.loads((target / META_FILE).read_text())
    meta["schema"] = "something-else/9"
    (target / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="not a role model metadata file of schema"):
        load_model(target)


def test_malformed_model_with_matching_digest_is_refused(tmp_path: Path) -> None:
    import hashlib

    target = _copy_model(tmp_path)
    content = json.loads((target / MODEL_FILE).read_bytes())
    content["classes"] = ["left-out", "no-such-role"]
    data = json.dumps(content).encode()
    (target / MODEL_FILE).write_bytes(data)
    meta = json.loads((target / META_FILE).read_text())
    meta["model_sha256"] = hashlib.sha256(data).hexdigest()
    (target / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"role-model\.json: malformed role model: "):
        load_model(target)


def test_metadata_records_provenance() -> None:
    meta = json.loads((DEFAULT_MODEL_DIR / META_FILE).read_text())
    assert len(meta["training_data"]["sha256"]) == 64
    assert set(meta["labels"]) <= {role.value for role in Role}
    assert {"scikit-learn", "numpy"} <= set(meta["libraries"])
    assert set(meta["metrics"]) == {"rules", "model", "combined"}


def test_package_context_sees_siblings_and_package(model) -> None:  # type: ignore[no-untyped-def]
    from sdfgen.roles.features import features, package_context

    paths = ["/usr/lib/foo/a.so", "/usr/lib/foo/b.so", "/usr/lib/foo/c.beam",
             "/usr/share/doc/foo/copyright", "/usr/bin/foo"]
    context = package_context("foo", paths)
    found = features("/usr/lib/foo/c.beam", "foo", None, context)
    assert "sib=modules" in found and "sibhas=modules" in found
    assert {"pkg_has=bins", "pkg_has=copyright"} <= set(found)
    # Without a context the file is its package's only file.
    alone = features("/usr/lib/foo/c.beam", "foo")
    assert "sib=none" in alone and "pkg_has=bins" not in alone
    # A file alone in its directory has no siblings.
    assert "sib=none" in features("/usr/bin/foo", "foo", None, context)
    decision = classify("/usr/lib/foo/c.beam", "foo", model=model, context=context)
    assert decision.role is Role.MODULES


def test_shipped_model_carries_its_threshold(model) -> None:  # type: ignore[no-untyped-def]
    from sdfgen.roles.training import THRESHOLD_GRID

    meta = json.loads((DEFAULT_MODEL_DIR / META_FILE).read_text())
    assert model.threshold in THRESHOLD_GRID
    assert meta["params"]["override_threshold"] == model.threshold
    assert len(meta["cv"]["fold_thresholds"]) == meta["cv"]["folds"]


def test_out_of_range_threshold_is_refused(tmp_path: Path) -> None:
    import hashlib

    target = _copy_model(tmp_path)
    content = json.loads((target / MODEL_FILE).read_bytes())
    content["override_threshold"] = 1.5
    data = json.dumps(content).encode()
    (target / MODEL_FILE).write_bytes(data)
    meta = json.loads((target / META_FILE).read_text())
    meta["model_sha256"] = hashlib.sha256(data).hexdigest()
    (target / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"malformed role model: override_threshold 1\.5 is not"):
        load_model(target)
