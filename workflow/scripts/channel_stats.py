import json

import numpy as np
import study_path  # noqa: F401

from study.data.stats import write_channel_stats
from study.logs import logged_to

with logged_to(snakemake.log[0]):
    images = np.load(snakemake.input.images, mmap_mode="r")
    stats = write_channel_stats(images, snakemake.output[0], snakemake.wildcards.dataset)
    print(json.dumps(stats, indent=2))
