"""What torchvision's ImageFolder makes of a folder, for the ImageFolderDataset tests.

Usage: /usr/bin/python3 image_folder_listing.py ROOT OUT.json

OUT.json holds {"classes": [...], "class_to_idx": {...}, "samples": [[path relative to ROOT, index], ...]} exactly as
torchvision 0.14's ImageFolder(ROOT) lists them (nothing is decoded), or {"error": exception type, "message": ...}
when ImageFolder refuses the folder.
"""
import json
import os
import sys

from torchvision.datasets import ImageFolder


def main():
    root, out = sys.argv[1], sys.argv[2]
    try:
        folder = ImageFolder(root)
        result = {
            "classes": folder.classes,
            "class_to_idx": folder.class_to_idx,
            "samples": [[os.path.relpath(path, root), index] for path, index in folder.samples],
        }
    except Exception as e:  # the test compares which error, not only that there is one
        result = {"error": type(e).__name__, "message": str(e)}
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
