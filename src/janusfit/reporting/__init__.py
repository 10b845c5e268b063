"""The pages of the HTML report that are built from the results (Overview, provenance)."""
