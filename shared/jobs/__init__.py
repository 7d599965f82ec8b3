"""Job openings, candidates and their segments (issue 8).

Light to import: scikit-learn is only imported by `shared.jobs.segmentation.compute`,
which runs in the `segment` function.
"""
