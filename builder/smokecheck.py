"""Smoke-check a built image: each check on each platform in each mode.

The checks come from the Distrofile's ``smoke`` key, recorded in the output
directory by the build (``smoke.json``), unless the caller gives its own. The
platforms default to those the build recorded. Results are yielded one by one so
the command line can print each as it finishes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from builder.build import load_smoke_record
from builder.distrofile import SmokeCheck
from builder.errors import SmokeSetupError
from builder.platform import Platform, parse_platform
from builder.smoke import Mode, SmokeResult, smoke

MODES: tuple[Mode, ...] = ("chroot", "system")


@dataclass(frozen=True)
class SmokePlan:
    """What to run: checks x platforms x modes against the image in ``image``."""

    image: Path
    checks: tuple[SmokeCheck, ...]
    platforms: tuple[Platform, ...]
    modes: tuple[Mode, ...]


def plan_smoke(image: Path, *, platforms: Sequence[Platform] = (), modes: Sequence[str] = (),
               command: Sequence[str] = (), expect_exit: int | None = None,
               expect_output: str | None = None, timeout: float | None = None) -> SmokePlan:
    """The plan for ``image``: a given ``command`` (or expectation) replaces the recorded
    checks; otherwise the build's checks, or the image's own command with exit 0."""
    image = Path(image)
    if not (image / "oci-layout").is_file():
        raise SmokeSetupError(f"{image}: not an image built by 'builder build' (no oci-layout)")
    record = load_smoke_record(image)
    checks = tuple(SmokeCheck.from_json(c) for c in record.get("checks") or ())
    if command or expect_exit is not None or expect_output is not None or not checks:
        base = checks[0] if checks and not command else SmokeCheck()
        checks = (SmokeCheck(
            tuple(command) or base.command,
            expect_exit if expect_exit is not None else (0 if command else base.expect_exit),
            expect_output if expect_output is not None else (None if command
                                                             else base.expect_output),
            base.timeout),)
    if timeout is not None:
        checks = tuple(SmokeCheck(c.command, c.expect_exit, c.expect_output, timeout)
                       for c in checks)
    chosen = tuple(platforms) or tuple(parse_platform(p) for p in record.get("platforms") or ())
    if not chosen:
        raise SmokeSetupError(f"{image}: no platforms recorded; pass --platform")
    for mode in modes:
        if mode not in MODES:
            raise SmokeSetupError(f"smoke mode {mode!r}: use chroot, system or both")
    return SmokePlan(image, checks, chosen, tuple(modes) or ("chroot",))  # type: ignore[arg-type]


def run_plan(plan: SmokePlan, *, cache_dir: Path) -> Iterator[tuple[SmokeCheck, SmokeResult]]:
    """Run every check of ``plan``; yield each check with its result as it finishes."""
    for platform in plan.platforms:
        for mode in plan.modes:
            for check in plan.checks:
                result = smoke(plan.image, platform, check.command, mode=mode,
                               expect_exit=check.expect_exit,
                               expect_output=check.expect_output, timeout=check.timeout,
                               cache_dir=cache_dir)
                yield check, result
