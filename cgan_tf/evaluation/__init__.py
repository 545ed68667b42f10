"""Measuring what the generator makes, class by class, in the feature space of a classifier trained on
the real data (conditional accuracy; Fréchet distance, precision and recall, each overall and per class;
KID; CAS)."""
