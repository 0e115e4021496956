"""The case file `rplcare.case/1`: model, vocabulary, units, loader and path-based errors."""
