public enum SloMoInterpPlaceholder {}
