"""Business numbers (docs/counts-api.md): per site, camera, time bucket and model version, the model's counts
against the counts people corrected, their error, and its trend."""
