label("city).
