// A failed test prints the engine's log it recorded (SyncHarness), so a failure in CI says what the engine did.
[assembly: Onitu.Tests.PrintRecordedLogOnFailure]
