"""The model lab: what builds the quality model, apart from what runs for users.

Generators of labelled images (``demo_data`` for training, ``validation_data``
for measuring), the photograph catalogue they draw from (``photographs``),
training and export (``training``), evaluation (``evaluation``,
``validation_report``, ``real_photographs``). The lab imports the production
wing (the loader, the metric families, the warehouse); production never
imports the lab. The model leaves the lab as data: ``seeds/gaussian_nb_params.csv``.
"""
