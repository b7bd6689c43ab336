// ScenarioRuntime is process-wide by design (hooks read one static snapshot), so tests that switch
// scenarios must not overlap.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
