"""PURE run quality control: rule packs (data) and their evaluation over a run (DESIGN.md).

``packs`` reads and validates a rule pack (the TOML files in ``rule_packs/``); ``evaluation``
turns a run's QC items into checks and the checks into a per acquisition x analyte acceptance;
``standards_table`` reads a calibration standards table. No Django here.
"""
