"""Pure pandas analysis: consensus, blended estimates, roadmap view tables, disclosure control."""
