import study_path  # noqa: F401

from study.logs import logged_to
from study.protocol import write_protocol

with logged_to(snakemake.log[0]):
    # The config, not params: params hold only the rules' hash, which tells Snakemake when to rewrite the
    # protocol (study.protocol.rules_to_freeze).
    record = write_protocol(snakemake.config, snakemake.output[0])
    print(f"protocol {record['sha256']} written at {record['written_at']}")
