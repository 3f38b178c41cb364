import study_path  # noqa: F401

from study.logs import logged_to
from study.protocol import write_protocol

with logged_to(snakemake.log[0]):
    # The config, not params: a rule of judgement changed after the runs must not rewrite the protocol, it
    # makes the claims exploratory (study.protocol.protocol_status).
    record = write_protocol(snakemake.config, snakemake.output[0])
    print(f"protocol {record['sha256']} written at {record['written_at']}")
