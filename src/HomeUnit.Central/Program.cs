namespace HomeUnit.Central; public static class Program { public static int Main() => 0; }
