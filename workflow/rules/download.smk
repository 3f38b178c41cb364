rule download:
    output:
        LAYOUT.download("{dataset}", "{filename}"),
    log:
        LAYOUT.log("download", "{dataset}", "{filename}"),
    retries: 3
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        url=get_download_url,
        checksum=get_download_checksum,
    script:
        "../scripts/download.py"
