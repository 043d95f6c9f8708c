namespace Onitu.Hosting; /// <summary>x</summary>
public static class Placeholder { }
