"""The publication tables of the report, built from the tidy results (report stage).

:func:`~pipeline.render.tables.results.load_results` reads the tidy outputs of the earlier stages
into a dict keyed by their path under ``processed/`` (``"models/coefficients.csv"``), among them the
frames the integrate stage computed for the tables (sample characteristics by group with their
tests, index descriptives, the codebook summary, the joint display: ``"integrate/..."``);
:func:`~pipeline.render.tables.plan.build_tables` turns them into
:class:`pipeline.render.table.Table` objects, one builder per table (one module per report section:
:mod:`.survey`, :mod:`.measurement`, :mod:`.models`, :mod:`.text`, and :mod:`.joint` for the joint
display); :func:`~pipeline.render.tables.check.check_numbers` checks that every number a table shows
equals its tidy source rounded to the shown decimals.

Labels come from the instrument (zh or en by ``settings["lang"]``), term labels of derived model
variables from ``params.yaml: report.term_labels``, the tables' own words from
:mod:`pipeline.render.locale`. Nothing here computes a statistic; pure functions except ``load_results``.
"""
