"""Certificates of analysis, the pure core: payload, PDF/A-3b rendering with Typst, PAdES signing.

No Django and no database here (REO-ASSAY.md §5 to §7): services gather the data, freeze the payload
and store the signed PDF; these modules turn a payload into signed bytes and check them.
"""
