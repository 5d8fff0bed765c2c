import JobQueue
