public enum SloMoMediaPlaceholder {}
