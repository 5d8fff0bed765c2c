// Queue engine: see JobQueue/*.swift
