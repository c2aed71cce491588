"""GIS layers: readers per source format, validation, import and the layers manifest."""
