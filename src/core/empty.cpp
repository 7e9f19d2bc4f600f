// Placeholder translation unit for module libraries that have no pure sources yet.
