"""The PyTorch peer of EmbedBench: what a user writes to embed a folder of images with torchvision.

Usage: /usr/bin/python3 torch_embed.py FOLDER WEIGHTS OUT.npy [--batch 32] [--workers 2] [--resize 232] [--crop 224]

ResNet-50 with WEIGHTS (a state dict), fc replaced by Identity (the 2048-wide avgpool vector), eval mode. A Dataset
reads each JPEG with torchvision.io.read_image (RGB) and applies F.resize([resize], bilinear, antialias=True),
F.center_crop, F.convert_image_dtype(float), F.normalize (ImageNet); a DataLoader with --workers worker processes
batches them; the model runs under torch.inference_mode(); the vectors go to OUT.npy. Files are all *.jpg under FOLDER,
sorted by relative path. Prints one JSON line: {"images", "seconds"}, seconds from listing the folder to the written
file (imports, model construction and weight loading are not timed; DataLoader worker start-up is).
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torchvision
from torchvision.io import ImageReadMode, read_image
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F


class Images(torch.utils.data.Dataset):
    def __init__(self, files, resize, crop):
        self.files, self.resize, self.crop = files, resize, crop

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        x = read_image(self.files[i], ImageReadMode.RGB)
        x = F.resize(x, [self.resize], interpolation=InterpolationMode.BILINEAR, antialias=True)
        x = F.center_crop(x, [self.crop])
        x = F.convert_image_dtype(x, torch.float)
        return F.normalize(x, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("weights")
    p.add_argument("out")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--resize", type=int, default=232)
    p.add_argument("--crop", type=int, default=224)
    a = p.parse_args()
    model = torchvision.models.resnet50(weights=None)
    model.load_state_dict(torch.load(a.weights))
    model.fc = torch.nn.Identity()
    model.eval()

    start = time.perf_counter()
    files = sorted((os.path.relpath(os.path.join(d, f), a.folder) for d, _, fs in os.walk(a.folder) for f in fs if f.endswith(".jpg")))
    loader = torch.utils.data.DataLoader(Images([os.path.join(a.folder, f) for f in files], a.resize, a.crop),
                                         batch_size=a.batch, num_workers=a.workers)
    vectors = []
    with torch.inference_mode():
        for x in loader:
            vectors.append(model(x))
    np.save(a.out, torch.cat(vectors).numpy())
    seconds = time.perf_counter() - start
    print(json.dumps({"images": len(files), "seconds": seconds}))


if __name__ == "__main__":
    main()
