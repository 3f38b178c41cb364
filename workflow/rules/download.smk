rule download:
    output:
        "results/downloads/{dataset}/{filename}",
    log:
        "results/logs/download/{dataset}/{filename}.log",
    retries: 3
    localrule: True
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        url=get_download_url,
        checksum=get_download_checksum,
    script:
        "../scripts/download.py"
