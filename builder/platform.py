"""Target platforms of the builder: OCI platform fields and the names each tool uses.

One ``Platform`` value carries the OCI ``os``/``architecture``/``variant`` triple and
maps it to the names Debian (``arm64``), GNU toolchains and QEMU (``aarch64``) use.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.errors import BuildError

# OCI architecture -> (machine name used by GNU/QEMU/RPM, Debian architecture)
_ARCHES: dict[str, tuple[str, str]] = {
    "amd64": ("x86_64", "amd64"),
    "arm64": ("aarch64", "arm64"),
}


@dataclass(frozen=True, order=True)
class Platform:
    """An OCI platform; ``variant`` is "v8" for arm64 as the image spec recommends."""

    os: str
    architecture: str
    variant: str = ""

    @property
    def machine(self) -> str:
        """The GNU/QEMU/RPM machine name: x86_64 or aarch64."""
        return _ARCHES[self.architecture][0]

    @property
    def debian_arch(self) -> str:
        """The Debian architecture name: amd64 or arm64."""
        return _ARCHES[self.architecture][1]

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)

    def oci_fields(self) -> dict[str, str]:
        """The ``platform`` object of an OCI descriptor."""
        fields = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            fields["variant"] = self.variant
        return fields


AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")


def parse_platform(text: str) -> Platform:
    """Parse "linux/amd64", "linux/arm64[/v8]", "x86_64" or "aarch64" into a Platform."""
    name = text.strip().lower()
    by_machine = {"x86_64": AMD64, "aarch64": ARM64, "amd64": AMD64, "arm64": ARM64}
    if name in by_machine:
        return by_machine[name]
    parts = name.split("/")
    if len(parts) in (2, 3) and parts[0] == "linux" and parts[1] in _ARCHES:
        variant = parts[2] if len(parts) == 3 else ("v8" if parts[1] == "arm64" else "")
        if parts[1] == "arm64" and variant != "v8":
            raise BuildError(f"platform {text!r}: only variant v8 is supported for arm64")
        if parts[1] == "amd64" and variant:
            raise BuildError(f"platform {text!r}: amd64 takes no variant")
        return Platform("linux", parts[1], variant)
    raise BuildError(f"platform {text!r}: unsupported; use linux/amd64 or linux/arm64/v8")
