"""A music library: scans into SQLite, queries and exports, mood tags written into files, iso-principle playlists."""
