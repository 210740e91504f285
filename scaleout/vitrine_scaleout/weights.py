"""Vitrine's weights folder (docs/model.md §2) and the identities checkpoints record (§8.3)."""

from __future__ import annotations

import os

from .tokenizers import BACKBONE_FILE, MODEL_FILES, TOKENIZER_FILES, sha256_file

FETCH = "fetch them with scripts/fetch-weights.sh (make weights), or point --weights / $VITRINE_WEIGHTS at a folder that has them"


class WeightsError(Exception):
    pass


def locate(explicit: str | None = None) -> str:
    """`--weights DIR`, else `$VITRINE_WEIGHTS`, else this checkout's Weights/ (scaleout/../Weights)."""
    folder = explicit or os.environ.get("VITRINE_WEIGHTS")
    if not folder:
        folder = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Weights"))
    if not os.path.isdir(folder):
        raise WeightsError(f"no weights folder at {folder}; {FETCH}")
    return os.path.abspath(folder)


class Weights:
    def __init__(self, folder: str):
        self.folder = folder
        self.manifest: dict[str, str] = {}
        path = os.path.join(folder, "MANIFEST")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    parts = line.strip().split(None, 1)
                    if len(parts) == 2:
                        self.manifest[parts[1].lstrip("*")] = parts[0].lower()
        self._computed: dict[str, str] = {}

    def path(self, folder_and_name: tuple) -> str:
        path = os.path.join(self.folder, folder_and_name[0], folder_and_name[1])
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            raise WeightsError(f"missing {folder_and_name[2] if len(folder_and_name) > 2 else folder_and_name[1]}: "
                               f"{path} does not exist or is empty; {FETCH}")
        return path

    def recorded_sha256(self, folder_and_name: tuple) -> str:
        """The SHA-256 MANIFEST records (as Vitrine's ComponentIdentity), else the file's."""
        key = folder_and_name[0] + "/" + folder_and_name[1]
        if key in self.manifest:
            return self.manifest[key]
        return self.computed_sha256(folder_and_name)

    def computed_sha256(self, folder_and_name: tuple) -> str:
        key = folder_and_name[0] + "/" + folder_and_name[1]
        if key not in self._computed:
            self._computed[key] = sha256_file(self.path(folder_and_name))
        return self._computed[key]

    def tokenizer_identity(self, tower: str) -> dict:
        f = TOKENIZER_FILES[tower]
        return {"name": f[2], "sha256": self.recorded_sha256(f)}

    def tower_identity(self, tower: str) -> dict:
        f = MODEL_FILES[tower]
        return {"name": f[2], "sha256": self.recorded_sha256(f)}

    def backbone_identity(self) -> dict:
        """Computed from the file, as Vitrine computes it when it loads the backbone."""
        return {"name": BACKBONE_FILE[2], "sha256": self.computed_sha256(BACKBONE_FILE)}

    def tower_path(self, tower: str) -> str:
        return self.path(MODEL_FILES[tower])
