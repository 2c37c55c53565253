"""Fetch the Swagger UI files that ``/docs`` serves offline into ``qfilter/service/swagger_ui/``.

    python scripts/update_swagger_ui.py [VERSION]     # default: the version SOURCE.json names

The files come from the ``swagger-ui-bundle-v2`` wheel of that version on the
package index (Swagger UI's release, repackaged; Apache-2.0), downloaded with
pip. Only what the page loads is kept: ``swagger-ui-bundle.js``,
``swagger-ui.css`` and the favicon (1.7 MB, where the wheel installs 12 MB and
Jinja2), with Swagger UI's license. ``SOURCE.json`` records the wheel, its
SHA-256 and each file's, which tests/test_packaging.py checks the files
against: they are what the wheel holds, not edited by hand.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

DISTRIBUTION = "swagger-ui-bundle-v2"
TARGET = Path(__file__).resolve().parent.parent / "qfilter" / "service" / "swagger_ui"
FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
NOTICE = """\
Swagger UI {version}, https://github.com/swagger-api/swagger-ui
Copyright SmartBear Software. Licensed under the Apache License, Version 2.0 (LICENSE).

The files here ({files}) are Swagger UI's
distribution files, unchanged, taken from {wheel}
by scripts/update_swagger_ui.py; SOURCE.json has their SHA-256.
"""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def current_version() -> str:
    """The Swagger UI version the package ships now (from SOURCE.json)."""
    source: dict[str, str] = json.loads((TARGET / "SOURCE.json").read_text(encoding="utf-8"))
    return source["version"]


def update(version: str) -> None:
    """Download the wheel of ``version`` and write its files, license, notice and SOURCE.json into TARGET."""
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps"]
            + ["--only-binary=:all:", "--dest", scratch, f"{DISTRIBUTION}=={version}"],
            check=True,
        )
        (wheel,) = Path(scratch).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            vendor = f"swagger_ui_bundle/vendor/swagger-ui-{version}/"
            found = {name: archive.read(vendor + name) for name in FILES}
            (license_name,) = [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]
            license_text = archive.read(license_name)
        TARGET.mkdir(parents=True, exist_ok=True)
        for name, data in found.items():
            (TARGET / name).write_bytes(data)
        (TARGET / "LICENSE").write_bytes(license_text)
        notice = NOTICE.format(version=version, files=", ".join(FILES), wheel=wheel.name)
        (TARGET / "NOTICE").write_text(notice, encoding="utf-8")
        source = {
            "version": version,
            "wheel": wheel.name,
            "wheel_sha256": _sha256(wheel.read_bytes()),
            "files": {name: _sha256(data) for name, data in sorted(found.items())},
        }
        (TARGET / "SOURCE.json").write_text(json.dumps(source, indent=2) + "\n", encoding="utf-8")
    print(f"Swagger UI {version} from {wheel.name} in {TARGET}")


if __name__ == "__main__":
    update(sys.argv[1] if len(sys.argv) > 1 else current_version())
