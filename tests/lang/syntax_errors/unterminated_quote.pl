city('New York).
city(paris).
