// Placeholder until the framing translator lands (owned by the framing helper).
