import study_path  # noqa: F401

from study.data.download import fetch
from study.logs import logged_to

with logged_to(snakemake.log[0]):
    print(f"fetching {snakemake.params.url}", flush=True)
    fetch(snakemake.params.url, snakemake.output[0], snakemake.params.checksum)
    print(f"verified {snakemake.output[0]} ({snakemake.params.checksum['algorithm']})")
