import study_path  # noqa: F401

from study.logs import logged_to
from study.reporting.browser import find_chromium, print_pdf

with logged_to(snakemake.log[0]):
    print_pdf(snakemake.input.html, snakemake.output.pdf, find_chromium())
