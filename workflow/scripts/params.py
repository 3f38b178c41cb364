from study.logs import logged_to

with logged_to(snakemake.log[0]):
    from study.params import INPUT_SHAPES, params_table

    table = params_table(dict(snakemake.params.variants), INPUT_SHAPES)
    table.to_csv(snakemake.output[0], index=False)
    print(table.to_string())
